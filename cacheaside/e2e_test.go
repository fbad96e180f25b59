package cacheaside_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
)

// world is a table on the shared MariaDB, a Redis, and cachesync running
// in-process (pipeline.Run, the direct transport) invalidating item:{id}.
type world struct {
	t    *testing.T
	db   *testenv.MariaDB
	name string
	rdb  *redis.Client
	mu   sync.Mutex // conn is one session
	conn *client.Conn
}

func startWorld(t *testing.T) *world {
	t.Helper()
	db := testenv.SharedMariaDB(t)
	r := testenv.StartRedis(t)
	w := &world{t: t, db: db, name: db.NewDatabase(t), rdb: r.Client(t), conn: db.Conn(t)}
	w.must("CREATE TABLE DB.items (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, payload VARCHAR(64)) CHARACTER SET utf8mb4")
	w.must("SET NAMES utf8mb4")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`source: {addr: %s, user: root, flavor: mariadb, server_id: %d, heartbeat_period: 1s}
checkpoint: {store: file, path: %s}
redis: {addrs: [%s]}
retry: {initial: 20ms, max: 500ms}
delete: {second_delay: 200ms}
rules:
  - table: %s.items
    keys: ["item:{id}"]
`, db.Addr, db.ReplicaServerID(), filepath.Join(t.TempDir(), "cachesync.pos"), r.Addr, w.name)), "e2e.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	soft, stop := context.WithCancel(context.Background())
	hard, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(soft, hard, pipeline.RoleAll, cfg, pipeline.Deps{Log: log, Metrics: metrics.New(nil), Health: pipeline.NewHealth(log, nil)})
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cachesync: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("cachesync did not stop")
		}
		kill()
	})
	w.waitStreaming()
	return w
}

// exec runs q on the world's session, DB standing for its database.
func (w *world) exec(q string, args ...any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.conn.Execute(strings.ReplaceAll(q, "DB.", "`"+w.name+"`."), args...)
	return err
}

// must is exec that fails the test on error.
func (w *world) must(q string, args ...any) {
	w.t.Helper()
	if err := w.exec(q, args...); err != nil {
		w.t.Fatal(err)
	}
}

// waitStreaming updates a canary row until cachesync deletes its key.
func (w *world) waitStreaming() {
	w.t.Helper()
	ctx := context.Background()
	if err := w.exec("INSERT INTO DB.items VALUES (1000, 1, 'canary')"); err != nil {
		w.t.Fatal(err)
	}
	w.rdb.Set(ctx, "item:1000", "x", 0)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := w.exec("UPDATE DB.items SET version = version + 1 WHERE id = 1000"); err != nil {
			w.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if n, _ := w.rdb.Exists(ctx, "item:1000").Result(); n == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatal("cachesync never deleted the canary key")
		}
	}
}

// loader reads row id from the primary as "version|payload"; then runs
// after, if given (the race tests use it to move the world on).
func (w *world) loader(id int, after func()) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		w.mu.Lock()
		r, err := w.conn.Execute("SELECT version, payload FROM `"+w.name+"`.items WHERE id = ?", id)
		w.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if r.RowNumber() == 0 {
			return nil, fmt.Errorf("item %d: %w", id, cacheaside.ErrNotFound)
		}
		v, _ := r.GetInt(0, 0)
		p, _ := r.GetString(0, 1)
		if after != nil {
			after()
		}
		return []byte(fmt.Sprintf("%d|%s", v, p)), nil
	}
}

// eventually polls Get until it returns want (cachesync deletes
// asynchronously: a read right after a commit may still hit the old value).
func eventually(t *testing.T, c *cacheaside.Client, key string, load func(context.Context) ([]byte, error), want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		v, err := c.Get(context.Background(), key, load)
		if got = string(v); err == nil && got == want {
			return
		}
	}
	t.Fatalf("%s: still %q, want %q", key, got, want)
}

func TestWithCachesync(t *testing.T) {
	w := startWorld(t)
	ctx := context.Background()
	c := newClient(t, w.rdb, cacheaside.Config{TTL: time.Hour, NegativeTTL: time.Hour})

	t.Run("update is read", func(t *testing.T) {
		w.must("INSERT INTO DB.items VALUES (1, 1, 'Zoë 😀')")
		if got := get(t, c, "item:1", w.loader(1, nil)); got != "1|Zoë 😀" {
			t.Fatalf("first read %q", got)
		}
		w.must("UPDATE DB.items SET version = 2, payload = '𝄞 two' WHERE id = 1")
		eventually(t, c, "item:1", w.loader(1, nil), "2|𝄞 two")
		// Absent is fine too: the second delete may have run since.
		if v, err := w.rdb.Get(ctx, "item:1").Result(); !errors.Is(err, redis.Nil) && v != "2|𝄞 two" {
			t.Errorf("cached %q, want the new row", v)
		}
	})

	// The race itself, step by step: the reader takes the lease and loads
	// the OLD row; the row is updated and cachesync deletes the key; the
	// reader's fill is refused. The key ends absent or new, never old.
	t.Run("race is fenced", func(t *testing.T) {
		w.must("INSERT INTO DB.items VALUES (2, 1, 'old')")
		before := c.Stats().RefusedFills
		got := get(t, c, "item:2", w.loader(2, func() {
			if err := w.exec("UPDATE DB.items SET version = 2, payload = 'new' WHERE id = 2"); err != nil {
				t.Error(err)
			}
			// The loader runs on the flight's goroutine: no t.Fatal here.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if n, _ := w.rdb.Exists(ctx, "item:2").Result(); n == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Error("cachesync never deleted item:2 (the placeholder)")
					return
				}
			}
		}))
		if got != "1|old" {
			t.Errorf("the reader got %q, want the row it read", got)
		}
		if c.Stats().RefusedFills != before+1 {
			t.Errorf("stats %+v: want the fill refused", c.Stats())
		}
		if v, err := w.rdb.Get(ctx, "item:2").Result(); !errors.Is(err, redis.Nil) && v != "2|new" {
			t.Errorf("item:2 holds %q after the race, want it absent or the new row", v)
		}
		if got := get(t, c, "item:2", w.loader(2, nil)); got != "2|new" {
			t.Errorf("next read %q, want the new row", got)
		}
	})

	// A cached "not found" is a key like any other: the INSERT's delete removes it.
	t.Run("insert removes the tombstone", func(t *testing.T) {
		if _, err := c.Get(ctx, "item:3", w.loader(3, nil)); !errors.Is(err, cacheaside.ErrNotFound) {
			t.Fatalf("absent row: %v", err)
		}
		if _, err := c.Get(ctx, "item:3", noLoad(t)); !errors.Is(err, cacheaside.ErrNotFound) {
			t.Fatalf("tombstone not cached: %v", err)
		}
		w.must("INSERT INTO DB.items VALUES (3, 1, 'born')")
		eventually(t, c, "item:3", w.loader(3, nil), "1|born")
	})
}
