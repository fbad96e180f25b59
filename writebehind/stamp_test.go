package writebehind

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
)

// guard runs the guarded delete and reports whether it kept the key.
func guard(t *testing.T, rdb redis.Scripter, key string) bool {
	t.Helper()
	n, err := redis.NewScript(GuardScript()).Run(context.Background(), rdb, []string{key, StampKey(key)}).Int()
	if err != nil {
		t.Fatalf("guard %s: %v", key, err)
	}
	return n == 0
}

// The guard against real Redis: it keeps a key only while the key holds
// exactly the value the scripts last wrote to it.
func TestGuardScript(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	c := New(rdb, "wb:g")
	row := Row{Table: "shop.stock", PK: map[string]any{"sku": "a"}}
	set := func(key, v string, ttl time.Duration) {
		t.Helper()
		if _, err := c.Set(ctx, key, v, ttl, row, map[string]any{"qty": v}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(keys ...string) {
		t.Helper()
		if n, _ := rdb.Exists(ctx, keys...).Result(); n != 0 {
			t.Errorf("%v: %d of them still exist; want them deleted", keys, n)
		}
	}

	set("k:kept", "5", 0)
	if !guard(t, rdb, "k:kept") || !guard(t, rdb, "k:kept") {
		t.Error("untouched write-behind value: want it kept, every time")
	}
	if v, _ := rdb.Get(ctx, "k:kept").Result(); v != "5" {
		t.Errorf("kept key holds %q, want 5", v)
	}

	set("k:changed", "5", 0)
	rdb.Set(ctx, "k:changed", "4", 0) // a reader's SET of an older row
	if guard(t, rdb, "k:changed") {
		t.Error("value changed without the scripts: want it deleted")
	}
	gone("k:changed", StampKey("k:changed"))

	set("k:refilled", "5", 0)
	rdb.Del(ctx, "k:refilled") // an invalidation deletes the key, not the stamp
	rdb.SetNX(ctx, "k:refilled", "4", 0)
	if guard(t, rdb, "k:refilled") {
		t.Error("refilled with another value after a delete: want it deleted")
	}

	rdb.Set(ctx, "k:old-scripts", "5", 0) // no stamp: written by old scripts or by hand
	if guard(t, rdb, "k:old-scripts") {
		t.Error("key without a stamp: want it deleted")
	}
	gone("k:old-scripts")

	set("k:missing", "5", 0)
	rdb.Del(ctx, "k:missing")
	if guard(t, rdb, "k:missing") {
		t.Error("missing key: want 'deleted'")
	}
	gone(StampKey("k:missing"))

	set("k:hash", "5", 0)
	rdb.Del(ctx, "k:hash")
	rdb.HSet(ctx, "k:hash", "f", "v") // another type: GET fails, the guard must not
	if guard(t, rdb, "k:hash") {
		t.Error("key of another type: want it deleted")
	}

	set("k:ttl", "5", time.Minute)
	if ttl, _ := rdb.PTTL(ctx, StampKey("k:ttl")).Result(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("stamp TTL %v; want the key's (1m)", ttl)
	}
	set("k:ttl", "6", 0)
	if ttl, _ := rdb.PTTL(ctx, StampKey("k:ttl")).Result(); ttl != -1 {
		t.Errorf("stamp TTL %v after a Set without TTL; want none, like the key", ttl)
	}

	set("k:n", "7", time.Minute)
	if r, err := c.IncrBy(ctx, "k:n", 2, 0, row, "qty"); err != nil || r.Value != 9 {
		t.Fatalf("incrby: %+v %v", r, err)
	}
	if ttl, _ := rdb.PTTL(ctx, StampKey("k:n")).Result(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("stamp TTL %v after IncrBy; want the key's remaining TTL", ttl)
	}
	if !guard(t, rdb, "k:n") {
		t.Error("IncrBy's value: want it kept")
	}
	rdb.Incr(ctx, "k:n") // an increment without the scripts
	if guard(t, rdb, "k:n") {
		t.Error("incremented without the scripts: want it deleted")
	}

	set("k:del", "5", 0)
	if _, err := c.Delete(ctx, "k:del", row); err != nil {
		t.Fatal(err)
	}
	gone("k:del", StampKey("k:del"))

	// Callers in other languages pass KEYS[3] themselves: a wrong one fails.
	err := rdb.Eval(ctx, SetScript(), []string{"k:x", "wb:g", "k:x:stamp"}, "1", 0, "shop.stock", `{"sku":"a"}`, "{}").Err()
	if err == nil {
		t.Error("set.lua with a wrong stamp key: want an error")
	}
}
