package flusher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// wbEnv is one write-behind test's world: a database with table items, a
// Redis, and the rule.
type wbEnv struct {
	t      testing.TB
	db     *testenv.MariaDB
	name   string
	rdb    *redis.Client
	rule   *config.Rule
	client *writebehind.Client
	m      *metrics.Metrics
}

const itemsSchema = `CREATE TABLE DB.items (
  id BIGINT PRIMARY KEY,
  name VARCHAR(32) NULL,
  qty BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB`

func newWBEnv(t testing.TB, db *testenv.MariaDB) *wbEnv {
	t.Helper()
	e := &wbEnv{t: t, db: db, m: metrics.New(nil)}
	e.name = db.NewDatabase(t)
	r := testenv.StartRedis(t)
	e.rdb = r.Client(t)
	e.exec(itemsSchema)
	cfg := config.Default()
	cfg.Source.User = "root"
	cfg.Rules = []config.Rule{{Table: e.name + ".items", Keys: []string{"item:{id}", "items:{name}"},
		WriteBehind: config.WriteBehindConfig{Stream: "wb:items", Keys: []string{"item:{id}"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e.rule = &cfg.Rules[0]
	e.client = writebehind.New(e.rdb, "wb:items")
	return e
}

func (e *wbEnv) exec(q string, args ...any) {
	e.t.Helper()
	e.db.Exec(e.t, strings.ReplaceAll(q, "DB.", "`"+e.name+"`."), args...)
}

func (e *wbEnv) table() string { return e.name + ".items" }

func (e *wbEnv) row(id int) writebehind.Row {
	return writebehind.Row{Table: e.table(), PK: map[string]any{"id": id}}
}

func (e *wbEnv) dialer() Dialer {
	addr := e.db.Addr
	return func(ctx context.Context) (*client.Conn, error) {
		return client.ConnectWithContext(ctx, addr, "root", "", "", 5*time.Second, func(c *client.Conn) error {
			c.ReadTimeout, c.WriteTimeout = 10*time.Second, 10*time.Second
			return nil
		})
	}
}

// flusher builds a flusher; tune adjusts its config before it is built.
func (e *wbEnv) flusher(consumer string, tune func(*Config)) *Flusher {
	cfg := Config{Rule: e.rule, Consumer: consumer, LeaseTTL: 600 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	return New(e.rdb, e.dialer(), cfg, retry.Backoff{Initial: 20 * time.Millisecond, Max: 300 * time.Millisecond},
		zaptest.NewLogger(e.t), e.m)
}

// running is a flusher running in a goroutine.
type running struct {
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

// wait waits for Run to return and returns its error.
func (r *running) wait() error {
	r.once.Do(func() { r.err = <-r.errc })
	return r.err
}

// stop ends Run and returns its error.
func (r *running) stop() error {
	r.cancel()
	return r.wait()
}

// run starts f; it is stopped when the test ends.
func run(t testing.TB, f *Flusher) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- f.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// waitDrained waits (bounded) until every entry of the stream is flushed
// and acknowledged.
func (e *wbEnv) waitDrained(limit time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for {
		n, err := e.rdb.XLen(ctx, "wb:items").Result()
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			groups, err := e.rdb.XInfoGroups(ctx, "wb:items").Result()
			if err == nil && len(groups) == 1 && groups[0].Pending == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("stream wb:items still holds %d entries after %v", n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mysqlQty returns id → qty of every row.
func (e *wbEnv) mysqlQty() map[int]int64 {
	e.t.Helper()
	r := e.db.Exec(e.t, "SELECT id, qty FROM `"+e.name+"`.items")
	out := map[int]int64{}
	for i := range r.RowNumber() {
		id, _ := r.GetInt(i, 0)
		q, _ := r.GetInt(i, 1)
		out[int(id)] = q
	}
	return out
}

// audit makes MySQL record every qty it is given for a row, in order.
func (e *wbEnv) audit() {
	e.t.Helper()
	e.exec("CREATE TABLE DB.audit (seq BIGINT AUTO_INCREMENT PRIMARY KEY, item BIGINT NOT NULL, qty BIGINT NOT NULL)")
	e.exec("CREATE TRIGGER DB.items_ai AFTER INSERT ON DB.items FOR EACH ROW INSERT INTO DB.audit (item, qty) VALUES (NEW.id, NEW.qty)")
	e.exec("CREATE TRIGGER DB.items_au AFTER UPDATE ON DB.items FOR EACH ROW INSERT INTO DB.audit (item, qty) VALUES (NEW.id, NEW.qty)")
}

// checkAuditIncreasing fails when some row was ever given a qty not above
// its previous one: with increments only, that is a write applied twice or
// out of order.
func (e *wbEnv) checkAuditIncreasing() {
	e.t.Helper()
	r := e.db.Exec(e.t, "SELECT item, qty FROM `"+e.name+"`.audit ORDER BY seq")
	last := map[int64]int64{}
	for i := range r.RowNumber() {
		item, _ := r.GetInt(i, 0)
		q, _ := r.GetInt(i, 1)
		if prev, ok := last[item]; ok && q <= prev {
			e.t.Fatalf("item %d was given qty %d after %d: a write was applied twice or out of order", item, q, prev)
		}
		last[item] = q
	}
}

// seed caches qty 0 for ids [0, n) and queues their rows.
func (e *wbEnv) seed(n int) {
	e.t.Helper()
	for id := range n {
		if _, err := e.client.Set(context.Background(), key(id), "0", 0, e.row(id), map[string]any{"qty": 0, "name": "n" + strconv.Itoa(id)}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func key(id int) string { return fmt.Sprintf("item:%d", id) }

func metricValue(t testing.TB, m *metrics.Metrics, which string) float64 {
	t.Helper()
	switch which {
	case "entries":
		return value(m.WBEntries.WithLabelValues("wb:items"))
	case "batches":
		return value(m.WBBatches.WithLabelValues("wb:items"))
	case "skipped":
		return value(m.WBSkipped.WithLabelValues("wb:items"))
	case "dead":
		return value(m.WBDeadLettered.WithLabelValues("wb:items"))
	}
	t.Fatalf("no metric %s", which)
	return 0
}

var errTestCrash = errors.New("test crash")

func value(c prometheus.Counter) float64 {
	var d dto.Metric
	_ = c.Write(&d)
	return d.GetCounter().GetValue()
}
