package cacheaside_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/internal/testenv"
)

// TestEscape: a value that begins with the reserved prefix round-trips, and
// a value equal to a placeholder is never taken for one (a reader finding
// it does not wait).
func TestEscape(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	other := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, HotMissWait: 10 * time.Second})
	values := map[string]string{
		"looks-like-lease":    cacheaside.Prefix + "L0123456789abcdef0123456789abcdef",
		"looks-like-notfound": cacheaside.Prefix + "N",
		"looks-escaped":       cacheaside.Prefix + "Ereal",
		"prefix-alone":        cacheaside.Prefix,
	}
	for key, v := range values {
		calls := 0
		if got := get(t, c, key, value(v, &calls)); got != v {
			t.Errorf("%s: miss returned %q, want %q", key, got, v)
		}
		stored, _ := rdb.Get(ctx, key).Result()
		if stored != cacheaside.Prefix+"E"+v {
			t.Errorf("%s: stored %q, want it escaped", key, stored)
		}
		if got := get(t, other, key, noLoad(t)); got != v {
			t.Errorf("%s: another reader's hit returned %q, want %q", key, got, v)
		}
	}
	if s := other.Stats(); s.Waits != 0 || s.Hits != uint64(len(values)) || s.NegativeHits != 0 {
		t.Errorf("stats %+v: a value was taken for a placeholder or tombstone", s)
	}
	// Bytes under the prefix that cacheaside never writes are reported, not returned.
	rdb.Set(ctx, "foreign", cacheaside.Prefix+"Xsomething", 0)
	if _, err := c.Get(ctx, "foreign", noLoad(t)); err == nil || !strings.Contains(err.Error(), "reserved prefix") {
		t.Errorf("foreign value under the prefix: %v, want an error naming the prefix", err)
	}
}

// TestNegativeCache: the loader's ErrNotFound is cached as a tombstone for
// NegativeTTL, answered without loading, and removed by a plain UNLINK
// (cachesync's delete when the row is inserted).
func TestNegativeCache(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, NegativeTTL: 300 * time.Millisecond})
	notFound := func(context.Context) ([]byte, error) { return nil, fmt.Errorf("user 7: %w", cacheaside.ErrNotFound) }
	if _, err := c.Get(ctx, "user:7", notFound); !errors.Is(err, cacheaside.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	if d := pttl(t, rdb, "user:7"); d > 300*time.Millisecond {
		t.Errorf("tombstone TTL %v, want at most NegativeTTL", d)
	}
	if _, err := c.Get(ctx, "user:7", noLoad(t)); !errors.Is(err, cacheaside.ErrNotFound) {
		t.Errorf("cached not-found: %v, want ErrNotFound", err)
	}
	if s := c.Stats(); s.NegativeHits != 1 || s.Fills != 1 || s.Loads != 1 {
		t.Errorf("stats %+v", s)
	}
	rdb.Unlink(ctx, "user:7") // the row was inserted: cachesync deletes the key
	calls := 0
	if got := get(t, c, "user:7", value("Ada", &calls)); got != "Ada" || calls != 1 {
		t.Errorf("after the delete: %q after %d loads, want the new row loaded", got, calls)
	}

	// Expiry: a tombstone is gone after NegativeTTL.
	if _, err := c.Get(ctx, "user:8", notFound); !errors.Is(err, cacheaside.ErrNotFound) {
		t.Fatal(err)
	}
	waitUntil(t, "the tombstone expires", func() bool { n, _ := rdb.Exists(ctx, "user:8").Result(); return n == 0 })
	if got := get(t, c, "user:8", value("Bob", &calls)); got != "Bob" {
		t.Errorf("after expiry: %q", got)
	}

	// NegativeTTL 0: not cached, the lease given back.
	plain := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	if _, err := plain.Get(ctx, "user:9", notFound); !errors.Is(err, cacheaside.ErrNotFound) {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "user:9").Result(); n != 0 {
		t.Error("NegativeTTL 0 left something at the key")
	}
}

// TestJitter: fill TTLs spread over [TTL, TTL×(1+Jitter)].
func TestJitter(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	const ttl, jitter = 10 * time.Second, 0.5
	c := newClient(t, rdb, cacheaside.Config{TTL: ttl, Jitter: jitter})
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for i := range 200 {
		key := fmt.Sprintf("k:%d", i)
		calls := 0
		get(t, c, key, value("v", &calls))
		d := pttl(t, rdb, key)
		lo, hi = min(lo, d), max(hi, d)
	}
	top := time.Duration(float64(ttl) * (1 + jitter))
	if lo < ttl-time.Second || hi > top {
		t.Errorf("TTLs in [%v, %v], want within [%v, %v]", lo, hi, ttl, top)
	}
	if hi-lo < time.Duration(float64(ttl)*jitter/2) {
		t.Errorf("TTLs in [%v, %v]: spread %v, want most of %v", lo, hi, hi-lo, time.Duration(float64(ttl)*jitter))
	}
}

// TestScriptsEvalSHA calls the scripts the way other languages do: SCRIPT
// LOAD, then EVALSHA with the documented KEYS and ARGV.
func TestScriptsEvalSHA(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	lease, _ := rdb.ScriptLoad(ctx, cacheaside.LeaseScript()).Result()
	fill, _ := rdb.ScriptLoad(ctx, cacheaside.FillScript()).Result()
	release, _ := rdb.ScriptLoad(ctx, cacheaside.ReleaseScript()).Result()
	mine := cacheaside.Prefix + "Lmine"
	if v, err := rdb.EvalSha(ctx, lease, []string{"k"}, mine, 2000).Text(); err != nil || v != mine {
		t.Fatalf("lease on an absent key: %q %v, want our placeholder back", v, err)
	}
	if v, _ := rdb.EvalSha(ctx, lease, []string{"k"}, cacheaside.Prefix+"Ltheirs", 2000).Text(); v != mine {
		t.Errorf("second lease: %q, want the first placeholder", v)
	}
	if n, _ := rdb.EvalSha(ctx, fill, []string{"k"}, cacheaside.Prefix+"Ltheirs", "v", 60000).Int(); n != 0 {
		t.Error("a fill with another's placeholder was stored")
	}
	if _, err := rdb.EvalSha(ctx, fill, []string{"k"}, mine, cacheaside.Prefix+"Lforged", 60000).Int(); err == nil {
		t.Error("fill accepted an unescaped value under the prefix")
	}
	if n, _ := rdb.EvalSha(ctx, release, []string{"k"}, mine).Int(); n != 1 {
		t.Error("release of our placeholder")
	}
	rdb.EvalSha(ctx, lease, []string{"k"}, mine, 2000)
	if n, _ := rdb.EvalSha(ctx, fill, []string{"k"}, mine, "v", 60000).Int(); n != 1 {
		t.Error("fill under our lease refused")
	}
	if v, _ := rdb.EvalSha(ctx, lease, []string{"k"}, mine, 2000).Text(); v != "v" {
		t.Errorf("lease on a filled key: %q, want the value", v)
	}
	for _, bad := range [][]any{{"not-a-placeholder", 2000}, {mine, 0}, {mine, "1.5"}} {
		if err := rdb.EvalSha(ctx, lease, []string{"k2"}, bad...).Err(); err == nil || !strings.Contains(err.Error(), "cachesync lease") {
			t.Errorf("lease %v: %v, want refused", bad, err)
		}
	}
}
