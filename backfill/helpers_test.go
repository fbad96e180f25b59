package backfill

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// collector is a sink that keeps every batch and acknowledges it at once.
type collector struct {
	mu      sync.Mutex
	batches []*event.Batch
	acker   event.Acker
	maxRows int // > 0: more rows than this is an error (a scan that revisits rows ends)
	rows    int
}

func (c *collector) Send(_ context.Context, b *event.Batch) error {
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.rows += b.Rows
	over := c.maxRows > 0 && c.rows > c.maxRows
	c.mu.Unlock()
	if over {
		return fmt.Errorf("collector: %d rows handed over, more than the %d the table has: the scan revisits rows", c.rows, c.maxRows)
	}
	c.acker.Done(b.Seq)
	return nil
}

func (c *collector) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, b := range c.batches {
		out = append(out, b.Keys...)
	}
	return out
}

// parseRules reads a rules: section with "db." standing for the database.
func parseRules(t *testing.T, yaml, db string) []*config.Rule {
	return testenv.RulesFromText(t, yaml, db)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// runSQL runs statements separated by ";\n" in database name, on one session.
func runSQL(t *testing.T, db *testenv.MariaDB, name, script string) {
	t.Helper()
	conn := db.Conn(t)
	if _, err := conn.Execute("USE `" + name + "`"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(script, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := conn.Execute(stmt); err != nil {
			t.Fatalf("%q: %v", stmt, err)
		}
	}
}

func sourceOf(db *testenv.MariaDB) config.SourceConfig {
	src := config.Default().Source
	src.Addr, src.User, src.Flavor, src.ServerID = db.Addr, "root", "mariadb", db.ReplicaServerID()
	return src
}

func masterPos(t *testing.T, db *testenv.MariaDB) event.Position {
	t.Helper()
	f, p := db.MasterStatus(t)
	return event.Position{File: f, Pos: p}
}

// tailKeys runs the real tailer from start until its safe position reaches
// end and returns every key it emitted, in order: the binlog path.
func tailKeys(t *testing.T, db *testenv.MariaDB, rules []*config.Rule, start, end event.Position) []string {
	t.Helper()
	tracker := checkpoint.NewTracker(event.Position{})
	col := &collector{acker: tracker}
	tl := canal.New(sourceOf(db), rules, col, tracker, zaptest.NewLogger(t), metrics.New(nil),
		retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx, start) }()
	for {
		if p, ok := tracker.Safe(); ok && p.Compare(end) >= 0 {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("tailer stopped before %v: %v", end, err)
		case <-ctx.Done():
			t.Fatalf("tailer did not reach %v", end)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("tailer: %v", err)
	}
	return col.keys()
}

// backfillKeys runs a dry backfill of table through a collector.
func backfillKeys(t *testing.T, db *testenv.MariaDB, rules []*config.Rule, opts Options) ([]string, Stats) {
	t.Helper()
	return backfillKeysAtMost(t, db, rules, opts, 0)
}

// backfillKeysAtMost is backfillKeys failing the test, instead of running
// on, once more than maxRows rows (0: no bound) are handed over.
func backfillKeysAtMost(t *testing.T, db *testenv.MariaDB, rules []*config.Rule, opts Options, maxRows int) ([]string, Stats) {
	t.Helper()
	opts.DryRun = true
	ctx := context.Background()
	j, err := Prepare(ctx, sourceOf(db), rules, opts, zaptest.NewLogger(t), metrics.New(nil), retry.Backoff{Initial: 10 * time.Millisecond, MaxElapsed: time.Second})
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	defer j.Close()
	col := &collector{acker: j.Acker(), maxRows: maxRows}
	if err := j.Run(ctx, col); err != nil {
		t.Fatalf("run: %v", err)
	}
	st, err := j.Finish(ctx)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	return col.keys(), st
}

func testenvShared(t testing.TB) *testenv.MariaDB { return testenv.SharedMariaDB(t) }
