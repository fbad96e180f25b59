package cacheaside_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newClient(t testing.TB, rdb redis.UniversalClient, cfg cacheaside.Config) *cacheaside.Client {
	t.Helper()
	c, err := cacheaside.New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// value returns a loader that returns v and counts its calls.
func value(v string, calls *int) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		*calls++
		return []byte(v), nil
	}
}

// noLoad is a loader for reads that must be answered from the cache.
func noLoad(t *testing.T) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		t.Error("loader called; want the read answered from the cache")
		return nil, errors.New("loader must not run")
	}
}

func get(t *testing.T, c *cacheaside.Client, key string, load func(context.Context) ([]byte, error)) string {
	t.Helper()
	v, err := c.Get(context.Background(), key, load)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return string(v)
}

// pttl is the key's remaining lifetime; it fails the test when the key has none.
func pttl(t *testing.T, rdb redis.UniversalClient, key string) time.Duration {
	t.Helper()
	d, err := rdb.PTTL(context.Background(), key).Result()
	if err != nil || d <= 0 {
		t.Fatalf("PTTL %q: %v %v; want a TTL", key, d, err)
	}
	return d
}

func TestHit(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	rdb.Set(context.Background(), "user:1", `{"name":"Ada"}`, 0)
	if got := get(t, c, "user:1", noLoad(t)); got != `{"name":"Ada"}` {
		t.Errorf("hit: %q", got)
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 0 || s.Loads != 0 {
		t.Errorf("stats %+v, want one hit", s)
	}
}

func TestMissFills(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	calls := 0
	if got := get(t, c, "user:1", value("v1", &calls)); got != "v1" || calls != 1 {
		t.Fatalf("miss: %q after %d loads, want v1 after 1", got, calls)
	}
	if stored, _ := rdb.Get(context.Background(), "user:1").Result(); stored != "v1" {
		t.Errorf("stored %q, want v1", stored)
	}
	if d := pttl(t, rdb, "user:1"); d > time.Minute || d < 55*time.Second {
		t.Errorf("TTL %v, want about 1m (no jitter)", d)
	}
	if got := get(t, c, "user:1", noLoad(t)); got != "v1" {
		t.Errorf("second read %q, want the filled v1", got)
	}
	if s := c.Stats(); s.Misses != 1 || s.Fills != 1 || s.Loads != 1 || s.Hits != 1 || s.RefusedFills != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRefusedFill deletes the key between the lease and the fill exactly as
// cachesync does (a plain UNLINK): the fill is refused, the caller still
// gets the value it loaded, and the key stays absent.
func TestRefusedFill(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	got := get(t, c, "user:1", func(ctx context.Context) ([]byte, error) {
		if err := rdb.Unlink(ctx, "user:1").Err(); err != nil {
			return nil, err
		}
		return []byte("old"), nil
	})
	if got != "old" {
		t.Errorf("caller got %q, want the value it loaded", got)
	}
	if n, _ := rdb.Exists(ctx, "user:1").Result(); n != 0 {
		v, _ := rdb.Get(ctx, "user:1").Result()
		t.Errorf("key holds %q after an invalidation during the load; want it absent", v)
	}
	if s := c.Stats(); s.RefusedFills != 1 || s.Fills != 0 {
		t.Errorf("stats %+v, want one refused fill", s)
	}
}

// TestRefusedFillExpiredLease: the lease expired during a slow load and
// another reader filled a newer value; the slow fill must not overwrite it.
func TestRefusedFillExpiredLease(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	slow := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, LeaseTTL: 20 * time.Millisecond})
	other := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	got := get(t, slow, "k", func(ctx context.Context) ([]byte, error) {
		for n := int64(1); n != 0; n, _ = rdb.Exists(ctx, "k").Result() {
			time.Sleep(5 * time.Millisecond) // the lease expires
		}
		calls := 0 // the loader runs on the flight's goroutine: no t.Fatal here
		if v, err := other.Get(ctx, "k", value("new", &calls)); string(v) != "new" || calls != 1 {
			t.Errorf("other reader: %q after %d loads (%v)", v, calls, err)
		}
		return []byte("old"), nil
	})
	if got != "old" {
		t.Errorf("slow caller got %q, want its own old", got)
	}
	if v, _ := rdb.Get(ctx, "k").Result(); v != "new" {
		t.Errorf("key holds %q, want the newer fill kept", v)
	}
	if s := slow.Stats(); s.RefusedFills != 1 || s.Fills != 0 {
		t.Errorf("slow stats %+v, want its fill refused", s)
	}
}

// TestPlaceholderWait: a second reader (another process: another Client)
// finds the first one's placeholder, waits, and gets its fill without
// loading.
func TestPlaceholderWait(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	first := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	second := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, HotMissWait: 10 * time.Second})
	release := make(chan struct{})
	done := make(chan string)
	go func() {
		v, _ := first.Get(context.Background(), "hot", func(context.Context) ([]byte, error) {
			<-release
			return []byte("from-first"), nil
		})
		done <- string(v)
	}()
	waitUntil(t, "the first reader holds the lease", func() bool { return first.Stats().Loads == 1 })
	got := make(chan string)
	go func() {
		v, err := second.Get(context.Background(), "hot", noLoad(t))
		if err != nil {
			t.Error(err)
		}
		got <- string(v)
	}()
	waitUntil(t, "the second reader waits", func() bool { return second.Stats().Waits == 1 })
	close(release)
	if v := <-got; v != "from-first" {
		t.Errorf("waiting reader got %q, want the first reader's fill", v)
	}
	if v := <-done; v != "from-first" {
		t.Errorf("first reader got %q", v)
	}
	if s := second.Stats(); s.Loads != 0 || s.WaitTimeouts != 0 {
		t.Errorf("second reader stats %+v: want no load", s)
	}
}

// TestWaitTimeout: the lease holder does not fill within HotMissWait; the
// waiting reader loads and returns its value without filling.
func TestWaitTimeout(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	first := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	second := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, HotMissWait: 30 * time.Millisecond})
	release := make(chan struct{})
	done := make(chan string)
	go func() {
		v, _ := first.Get(ctx, "hot", func(context.Context) ([]byte, error) {
			<-release
			return []byte("from-first"), nil
		})
		done <- string(v)
	}()
	waitUntil(t, "the first reader holds the lease", func() bool { return first.Stats().Loads == 1 })
	calls := 0
	if v := get(t, second, "hot", value("from-second", &calls)); v != "from-second" || calls != 1 {
		t.Errorf("timed-out reader: %q after %d loads, want its own load", v, calls)
	}
	if s := second.Stats(); s.Waits != 1 || s.WaitTimeouts != 1 || s.Fills != 0 || s.RefusedFills != 0 {
		t.Errorf("second reader stats %+v: want one wait, timed out, no fill", s)
	}
	stored, _ := rdb.Get(ctx, "hot").Result()
	if !strings.HasPrefix(stored, cacheaside.Prefix+"L") {
		t.Errorf("key holds %q, want the first reader's placeholder still (no fill by the second)", stored)
	}
	close(release)
	if v := <-done; v != "from-first" {
		t.Errorf("first reader got %q", v)
	}
	if v, _ := rdb.Get(ctx, "hot").Result(); v != "from-first" {
		t.Errorf("key holds %q, want the lease holder's fill", v)
	}
}

// TestSingleflight: concurrent misses of one key in one process load once.
func TestSingleflight(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	const n = 8
	release := make(chan struct{})
	var loads sync.Mutex
	calls := 0
	load := func(context.Context) ([]byte, error) {
		loads.Lock()
		calls++
		loads.Unlock()
		<-release
		return []byte("v"), nil
	}
	var wg sync.WaitGroup
	got := make([][]byte, n)
	for i := range n {
		wg.Go(func() {
			v, err := c.Get(context.Background(), "k", load)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	waitUntil(t, "every caller missed", func() bool { return c.Stats().Misses == n })
	close(release)
	wg.Wait()
	for i, v := range got {
		if string(v) != "v" {
			t.Errorf("caller %d got %q", i, v)
		}
	}
	got[0][0] = 'X' // each caller owns its slice
	if string(got[1]) != "v" {
		t.Error("callers share one slice")
	}
	if s := c.Stats(); calls != 1 || s.Loads != 1 || s.Shared != n-1 || s.Fills != 1 {
		t.Errorf("%d loads, stats %+v; want one load shared by %d callers", calls, s, n-1)
	}
}

// TestLoaderError: a failed load is returned and the lease given back.
func TestLoaderError(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	boom := errors.New("mysql: connection refused")
	_, err := c.Get(context.Background(), "k", func(context.Context) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Get: %v, want the loader's error", err)
	}
	if n, _ := rdb.Exists(context.Background(), "k").Result(); n != 0 {
		t.Error("the placeholder outlived a failed load; want it given back")
	}
}

// waitUntil polls cond for at most 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer rdb.Close()
	c, err := cacheaside.New(rdb, cacheaside.Config{TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.Config(); cfg.LeaseTTL != 2*time.Second || cfg.HotMissWait != 100*time.Millisecond || cfg.NegativeTTL != 0 {
		t.Errorf("defaults %+v", cfg)
	}
	_, err = cacheaside.New(rdb, cacheaside.Config{Jitter: 1.5, LeaseTTL: -1, HotMissWait: -1, NegativeTTL: time.Microsecond})
	for _, want := range []string{"TTL 0s", "Jitter 1.5", "LeaseTTL -1ns", "HotMissWait -1ns", "NegativeTTL 1µs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	if _, err := cacheaside.New(nil, cacheaside.Config{TTL: time.Second}); err == nil {
		t.Error("New(nil) must fail")
	}
}

func TestBinaryValuesAndUnicodeKeys(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := map[string][]byte{
		"user:email:ünïcødé@例え.jp":  []byte("Zoë 🎉 \x00 NUL"),
		"emoji:😀:𝄞:{tag}":           all,
		"bad-utf8:\xff\xfe":         []byte("\xc3\x28 not UTF-8"),
		"empty-value:🚀":             {},
		"prefix-only:\x00cachesync": []byte(cacheaside.Prefix[:5]),
	}
	for key, want := range cases {
		calls := 0
		load := func(context.Context) ([]byte, error) { calls++; return want, nil }
		if got := get(t, c, key, load); got != string(want) {
			t.Errorf("%q: miss returned %q, want %q", key, got, want)
		}
		if got := get(t, c, key, noLoad(t)); got != string(want) || calls != 1 {
			t.Errorf("%q: hit returned %q after %d loads, want %q after 1", key, got, calls, want)
		}
	}
}

func ExampleClient_Get() {
	// rdb is any redis.UniversalClient: single, Cluster or Sentinel.
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	c, err := cacheaside.New(rdb, cacheaside.Config{TTL: 10 * time.Minute, Jitter: 0.1, NegativeTTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	_, err = c.Get(context.Background(), "user:42", func(ctx context.Context) ([]byte, error) {
		// SELECT … FROM users WHERE id = 42 on the primary; no row:
		return nil, fmt.Errorf("user 42: %w", cacheaside.ErrNotFound)
	})
	_ = errors.Is(err, cacheaside.ErrNotFound)
}

// TestCanceledFirstCaller: the caller running a shared miss path gives up
// (its context ends); a caller sharing it with a live context is not failed
// by that: it runs the miss path again, and takes the lease at once because
// the canceled load gave it back.
func TestCanceledFirstCaller(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, HotMissWait: 10 * time.Second})
	var mu sync.Mutex
	calls := 0
	load := func(ctx context.Context) ([]byte, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []byte("v"), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() { _, err := c.Get(ctx, "k", load); first <- err }()
	waitUntil(t, "the first caller loads", func() bool { return c.Stats().Loads == 1 })
	second := make(chan string)
	go func() {
		v, err := c.Get(context.Background(), "k", load)
		if err != nil {
			t.Error(err)
		}
		second <- string(v)
	}()
	waitUntil(t, "the second caller joins", func() bool { return c.Stats().Misses == 2 })
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: %v, want context.Canceled", err)
	}
	if v := <-second; v != "v" {
		t.Errorf("second caller got %q, want its own load's value", v)
	}
	if s := c.Stats(); s.Loads != 2 || s.Waits != 0 || s.Fills != 1 {
		t.Errorf("stats %+v: want a second load at once (the lease given back), filled", s)
	}
}

// TestLoaderTimeout: a loader's own deadline error (a query timeout) is
// returned once, not retried as if another caller had been canceled.
func TestLoaderTimeout(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	calls := 0
	_, err := c.Get(context.Background(), "k", func(context.Context) ([]byte, error) {
		calls++
		if calls > 3 {
			return []byte("v"), nil // bounds a retry loop, should one exist
		}
		return nil, fmt.Errorf("query timeout: %w", context.DeadlineExceeded)
	})
	if !errors.Is(err, context.DeadlineExceeded) || calls != 1 {
		t.Errorf("%d loads, %v; want the loader's timeout after one load", calls, err)
	}
}

// TestRedisDownServesFromTheLoader: a cache outage degrades reads to the
// database instead of failing them — on the first GET, on the lease, and
// on the fill — and each is counted.
func TestRedisDownServesFromTheLoader(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := srv.Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	ctx := context.Background()

	// The fill fails: Redis goes away while the row loads.
	got, err := c.Get(ctx, "user:😀", func(context.Context) ([]byte, error) {
		srv.Stop(t)
		return []byte("v1"), nil
	})
	if err != nil || string(got) != "v1" {
		t.Fatalf("fill with Redis gone: %q, %v; want the loaded v1", got, err)
	}
	// The GET fails: Redis is still down.
	calls := 0
	if got := get(t, c, "user:😀", value("v2", &calls)); got != "v2" || calls != 1 {
		t.Fatalf("read with Redis down: %q after %d loads, want v2 after 1", got, calls)
	}
	if s := c.Stats(); s.RedisErrors != 2 || s.Fills != 0 {
		t.Errorf("stats %+v: want 2 Redis errors and no fill", s)
	}
	srv.Start(t)
	if got := get(t, c, "user:😀", value("v3", &calls)); got != "v3" {
		t.Errorf("after Redis is back: %q, want v3 loaded and filled", got)
	}
	if s := c.Stats(); s.Fills != 1 {
		t.Errorf("stats %+v: want the fill once Redis is back", s)
	}
}
