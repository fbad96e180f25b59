package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// restartRig is run (tailer, direct transport) against a private MariaDB
// and a redis-server that the test restarts.
type restartRig struct {
	db    *testenv.MariaDB
	r     *testenv.Redis
	c     *redis.Client
	cfg   *config.Config
	m     *metrics.Metrics
	logs  *observer.ObservedLogs
	names map[int]string // users.name before the update
}

// startRestartRig starts run; transport is a YAML line for transport (empty: direct).
func startRestartRig(t *testing.T, onRestart, transport string) *restartRig {
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	r := testenv.StartRedis(t)
	db.Exec(t, "CREATE DATABASE shop")
	db.Exec(t, "CREATE TABLE shop.users (id INT PRIMARY KEY, name VARCHAR(64)) CHARSET utf8mb4")
	g := &restartRig{db: db, r: r, c: r.Client(t), names: map[int]string{}}
	for id := 1; id <= 6; id++ {
		g.names[id] = fmt.Sprintf("名前-%d-😀", id)
		db.Exec(t, "INSERT INTO shop.users VALUES (?, ?)", id, g.names[id])
	}
	yaml := fmt.Sprintf(`source: {addr: %q, user: root, flavor: mariadb, server_id: 77}
checkpoint: {path: %q}
redis: {addrs: [%q], on_restart: %s, restart_check: 100ms, restart_lookback: 1m}
delete: {second_delay: 50ms}
%s
rules:
  - table: shop.users
    keys: ["user:{id}", "名前:{name}"]
`, db.Addr, filepath.Join(t.TempDir(), "pos"), r.Addr, onRestart, transport)
	cfg, err := config.Parse([]byte(yaml), "restart.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	g.cfg = cfg
	reg := prometheus.NewRegistry()
	g.m = metrics.New(reg)
	core, logs := observer.New(zapcore.InfoLevel)
	g.logs = logs
	soft, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(soft, context.Background(), RoleAll, cfg, Deps{Log: zap.New(core), Metrics: g.m, Health: NewHealth(zap.NewNop(), reg)})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	// The first checkpoint is saved once the start position is known: a
	// write after it is streamed.
	store := &checkpoint.FileStore{Path: cfg.Checkpoint.Path}
	waitFor(t, "the tailer to save its start position", func() bool { _, ok, _ := store.Load(context.Background()); return ok })
	return g
}

func (g *restartRig) cacheAll(t *testing.T) {
	ctx := context.Background()
	for id, name := range g.names {
		g.c.Set(ctx, fmt.Sprintf("user:%d", id), name, 0)
		g.c.Set(ctx, "名前:"+name, id, 0)
	}
}

// staleKeys are the keys of users 1-3, whose rows the test updates.
func (g *restartRig) staleKeys() []string {
	var keys []string
	for id := 1; id <= 3; id++ {
		keys = append(keys, fmt.Sprintf("user:%d", id), "名前:"+g.names[id])
	}
	return keys
}

func (g *restartRig) cached(keys []string) int {
	return int(g.c.Exists(context.Background(), keys...).Val())
}

// saveThenUpdate caches every row and SAVEs the dump (its path and bytes
// returned), then updates rows 1-3 and waits until cachesync has deleted
// their keys: the dump now holds their stale values.
func (g *restartRig) saveThenUpdate(t *testing.T) (dump string, old []byte) {
	t.Helper()
	g.cacheAll(t)
	if err := g.c.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	dump = filepath.Join(g.r.Dir, "dump.rdb")
	old, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	g.db.Exec(t, "UPDATE shop.users SET name = CONCAT(name, '✓') WHERE id <= 3")
	waitFor(t, "cachesync to delete the updated rows' keys", func() bool { return g.cached(g.staleKeys()) == 0 })
	return dump, old
}

// restartFromOldRDB: SAVE while the old rows are cached, update rows 1-3
// (cachesync deletes their keys), then restart Redis from that dump: the
// stale keys are back.
func (g *restartRig) restartFromOldRDB(t *testing.T) {
	dump, old := g.saveThenUpdate(t)
	// Both deletes done before the restart: a second delete retried across
	// it would remove the stale keys and hide what on_restart does.
	waitFor(t, "the second deletes", func() bool {
		first := testutil.ToFloat64(g.m.Invalidated.WithLabelValues("first"))
		return first > 0 && testutil.ToFloat64(g.m.Invalidated.WithLabelValues("second")) == first
	})
	g.r.Stop(t)
	if err := os.WriteFile(dump, old, 0o644); err != nil {
		t.Fatal(err)
	}
	g.r.Start(t)
	if n := g.cached(g.staleKeys()); n != 6 {
		t.Fatalf("%d of the 6 stale keys came back with the old dump; want all", n)
	}
}

func (g *restartRig) restarts() float64 {
	return testutil.ToFloat64(g.m.RedisFaults.Restarts.WithLabelValues(g.r.Addr))
}

// on_restart: warn — a restart from an old RDB and one without persistence
// are each one ERROR line naming the server and both run_ids, and one
// count; nothing is deleted.
func TestRedisRestartWarn(t *testing.T) {
	g := startRestartRig(t, "warn", "")
	before := g.c.Info(context.Background(), "server").Val()
	g.restartFromOldRDB(t)
	waitFor(t, "the restart to be counted", func() bool { return g.restarts() == 1 })
	lines := g.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("redis restarted").All()
	if len(lines) != 1 {
		t.Fatalf("%d error lines about the restart, want 1: %v", len(lines), g.logs.All())
	}
	f := lines[0].ContextMap()
	oldID, _ := f["old_run_id"].(string)
	if f["redis"] != g.r.Addr || oldID == "" || f["new_run_id"] == oldID || !strings.Contains(before, "run_id:"+oldID) ||
		!strings.Contains(lines[0].Message, "cachesync replay --from") {
		t.Errorf("the error line should name the server, the old and new run_id and the replay to run: %q %v", lines[0].Message, f)
	}
	if n := g.cached(g.staleKeys()); n != 6 {
		t.Errorf("on_restart: warn deleted %d stale keys; it only warns", 6-n)
	}
	// A restart without persistence: empty, consistent, still counted.
	g.r.Stop(t)
	os.Remove(filepath.Join(g.r.Dir, "dump.rdb"))
	g.r.Start(t)
	waitFor(t, "the second restart to be counted", func() bool { return g.restarts() == 2 })
}

// on_restart: replay — the stale values an old RDB brought back are
// deleted by re-sending the invalidations of the lookback, and run's
// checkpoint does not move back.
func TestRedisRestartReplay(t *testing.T) {
	testRestartReplay(t, startRestartRig(t, "replay", ""))
}

// The same over the Kafka transport: the tailer publishes the replay to
// the topic and the consumer deletes.
func TestRedisRestartReplayKafka(t *testing.T) {
	broker := testenv.StartKafka(t)
	testRestartReplay(t, startRestartRig(t, "replay",
		fmt.Sprintf("transport: {kind: kafka, kafka: {brokers: [%q], topic: inval, group: g, create_topic: true}}", broker)))
}

func testRestartReplay(t *testing.T, g *restartRig) {
	g.restartFromOldRDB(t)
	store := &checkpoint.FileStore{Path: g.cfg.Checkpoint.Path}
	saved, _, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay to delete the stale keys", func() bool { return g.cached(g.staleKeys()) == 0 })
	waitFor(t, "the replay to be counted", func() bool {
		return testutil.ToFloat64(g.m.RedisFaults.Replays.WithLabelValues("done")) == 1
	})
	if g.restarts() != 1 {
		t.Errorf("restarts counted: %v, want 1", g.restarts())
	}
	after, _, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.Compare(saved) < 0 {
		t.Errorf("the checkpoint moved back from %v to %v", saved, after)
	}
}

// A replay that fails for a moment is tried again (three times in all); a
// lookback the binlog no longer covers is not.
func TestRestartReplayRetried(t *testing.T) {
	cfg := config.Default()
	cfg.Retry = config.RetryConfig{Initial: config.Duration(time.Millisecond), Max: config.Duration(time.Millisecond)}
	w := newRestartWatch(&cfg, Deps{Metrics: metrics.New(nil)})
	for _, tc := range []struct {
		errs      []error
		wantCalls int
		wantErr   error
	}{
		{[]error{errNotAGap, errNotAGap, nil}, 3, nil},
		{[]error{errNotAGap, errNotAGap, errNotAGap, nil}, 3, errNotAGap},
		{[]error{canal.ErrPositionGone, nil}, 1, canal.ErrPositionGone},
	} {
		calls := 0
		w.replay = func(context.Context, time.Time) error { calls++; return tc.errs[calls-1] }
		err := w.replayRetried(context.Background(), time.Now())
		if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("errors %v: %d calls, %v; want %d calls, %v", tc.errs, calls, err, tc.wantCalls, tc.wantErr)
		}
	}
}

// A lookback older than the binlog the server keeps: the replay re-sends
// what the server keeps (rows 4-6, updated after the purge) and counts as
// failed, saying to backfill (rows 1-3, updated before it, stay stale).
func TestRedisRestartReplayPastRetention(t *testing.T) {
	g := startRestartRig(t, "replay", "")
	ctx := context.Background()
	dump, old := g.saveThenUpdate(t)
	g.db.Exec(t, "FLUSH BINARY LOGS")
	res := g.db.Exec(t, "SHOW MASTER STATUS")
	newest, _ := res.GetString(0, 0)
	later := []string{}
	for id := 4; id <= 6; id++ {
		later = append(later, fmt.Sprintf("user:%d", id), "名前:"+g.names[id])
	}
	g.db.Exec(t, "UPDATE shop.users SET name = CONCAT(name, '✓') WHERE id > 3")
	waitFor(t, "the second update's deletes", func() bool { return g.cached(later) == 0 })
	// The server purges no file a replica still reads: the tailer's
	// checkpoint in the new file shows it has moved on.
	store := &checkpoint.FileStore{Path: g.cfg.Checkpoint.Path}
	waitFor(t, "the checkpoint in "+newest, func() bool { p, _, _ := store.Load(ctx); return p.File == newest })
	// The server keeps a file until its binlog checkpoint is done: purge
	// until it is gone (bounded).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		g.db.Exec(t, "PURGE BINARY LOGS TO '"+newest+"'")
		first, _ := g.db.Exec(t, "SHOW BINARY LOGS").GetString(0, 0)
		if first == newest {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the oldest binlog is %s after PURGE TO %s", first, newest)
		}
	}
	waitFor(t, "the second deletes", func() bool {
		first := testutil.ToFloat64(g.m.Invalidated.WithLabelValues("first"))
		return first > 0 && testutil.ToFloat64(g.m.Invalidated.WithLabelValues("second")) == first
	})
	g.r.Stop(t)
	if err := os.WriteFile(dump, old, 0o644); err != nil {
		t.Fatal(err)
	}
	g.r.Start(t)
	if n := g.cached(append(g.staleKeys(), later...)); n != 12 {
		t.Fatalf("%d of the 12 stale keys came back with the old dump; want all", n)
	}
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(g.m.RedisFaults.Replays.WithLabelValues("failed")) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			for _, e := range g.logs.All() {
				t.Logf("%s %s %v", e.Level, e.Message, e.ContextMap())
			}
			t.Fatal("the replay was not counted as failed")
		}
	}
	if n := g.cached(later); n != 0 {
		t.Errorf("%d keys of the changes the server still has are stale; the replay should re-send what it keeps", n)
	}
	lines := g.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("the replay after the redis restart failed").All()
	if len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0].ContextMap()["error"]), "cachesync backfill") {
		t.Errorf("want one error line saying to backfill, got %v", lines)
	}
}
