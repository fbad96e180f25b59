package flusher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
)

// waitKeyGone waits (bounded) until key does not exist.
func (e *wbEnv) waitKeyGone(limit time.Duration, key string) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, err := e.rdb.Get(context.Background(), key).Result()
		if errors.Is(err, redis.Nil) {
			return
		}
		if time.Now().After(deadline) {
			v, _ := e.rdb.Get(context.Background(), key).Result()
			e.t.Fatalf("key %s still holds %q after %v: nothing invalidated it", key, v, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWriteBehindDeadLetterInvalidates: a write MySQL refuses (a CHECK
// constraint) had already changed the cache through the script; once the
// entry is dead-lettered its owned key is deleted, and deleted again after
// the second delay (a reader that refilled it in between from a replica is
// covered too). The row's other entries of the batch still apply.
func TestWriteBehindDeadLetterInvalidates(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	e.exec("ALTER TABLE DB.items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)")
	e.exec("INSERT INTO DB.items (id, qty) VALUES (1, 5), (2, 5)")
	ctx := context.Background()
	if _, err := e.client.Set(ctx, key(1), "-1", 0, e.row(1), map[string]any{"qty": -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Set(ctx, key(2), "7", 0, e.row(2), map[string]any{"qty": 7}); err != nil {
		t.Fatal(err)
	}
	run(t, e.flusher("f1", func(c *Config) { c.SecondDelay = 3 * time.Second }))
	e.waitDrained(30 * time.Second)
	if got := e.mysqlQty(); got[1] != 5 || got[2] != 7 {
		t.Fatalf("MySQL %v, want 1→5 (refused) and 2→7", got)
	}
	if n, _ := e.rdb.XLen(ctx, "wb:items:dead").Result(); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	e.waitKeyGone(10*time.Second, key(1))
	// A reader refills the key with what it read before the delete.
	if err := e.rdb.Set(ctx, key(1), "-1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.waitKeyGone(30*time.Second, key(1))
	if v, err := e.rdb.Get(ctx, key(2)).Result(); err != nil || v != "7" {
		t.Errorf("key of the applied row = %q (%v), want it kept at 7", v, err)
	}
}
