package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

// ringKeys are what an application caches: ASCII, 4-byte UTF-8, hash tags,
// bytes that are not UTF-8.
func ringKeys(n int) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("user:%d", i), fmt.Sprintf("ユーザー:%d:😀", i), fmt.Sprintf("{order:%d}:lines", i%7),
			fmt.Sprintf("bin:\xff\x00%c", rune('a'+i%26)))
	}
	return keys
}

type ringShard struct {
	name string
	r    *testenv.Redis
	c    *redis.Client
}

func startShards(t *testing.T, names ...string) ([]ringShard, map[string]string) {
	var shards []ringShard
	addrs := map[string]string{}
	for _, n := range names {
		r := testenv.StartRedis(t)
		shards = append(shards, ringShard{n, r, r.Client(t)})
		addrs[n] = r.Addr
	}
	return shards, addrs
}

// holder returns the one shard holding key; it fails the test if none or
// several do.
func holder(t *testing.T, shards []ringShard, key string) string {
	t.Helper()
	var at []string
	for _, s := range shards {
		if s.c.Exists(context.Background(), key).Val() == 1 {
			at = append(at, s.name)
		}
	}
	if len(at) != 1 {
		t.Fatalf("key %q is on shards %v; want exactly one", key, at)
	}
	return at[0]
}

// deleteAll runs a deleter on rc (mode ring) over one batch of keys; it
// returns the deleter's metrics.
func deleteAll(t *testing.T, rc config.RedisConfig, keys []string, guarded map[string]bool) *metrics.Metrics {
	t.Helper()
	rdb := newRedis(t, rc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := CheckRedis(ctx, rdb, rc); err != nil {
		t.Fatal(err)
	}
	acks := &ackLog{}
	m := metrics.New(nil)
	d := NewDeleter(rdb, fromFile(DeleterConfig{}), acks, retry.Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}, zaptest.NewLogger(t), m)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	b := &event.Batch{Seq: 1, CommitTime: time.Now()}
	for _, k := range keys {
		b.AddKey(k, guarded[k])
	}
	if err := d.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if acks.count() != 1 {
		t.Fatalf("%d batches acknowledged, want 1", acks.count())
	}
	return m
}

// mode: ring deletes every key on the shard where the application's
// go-redis Ring (same shard names, its default rendezvous hashing) wrote
// it; a write-behind key (script run on its shard through the Ring) keeps
// its guarded delete there.
func TestRingDeletesOnEachShard(t *testing.T) {
	shards, addrs := startShards(t, "alpha", "beta", "gamma")
	ctx := context.Background()
	app := redis.NewRing(&redis.RingOptions{Addrs: addrs})
	t.Cleanup(func() { app.Close() })
	keys := ringKeys(40)
	for _, k := range keys {
		if err := app.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wb := writebehind.New(app, "wb:items")
	kept := []string{}
	for i := range 9 {
		kept = append(kept, fmt.Sprintf("wb:kept:%d", i))
	}
	guarded := map[string]bool{"wb:changed": true}
	keptOn := map[string]bool{}
	for _, k := range append(kept, "wb:changed") {
		if _, err := wb.Set(ctx, k, "5", 0, wbRow, map[string]any{"qty": 5}); err != nil {
			t.Fatal(err)
		}
		guarded[k] = true
		keptOn[holder(t, shards, k)] = true
	}
	if len(keptOn) != 3 {
		t.Fatalf("the guarded keys are on shards %v; want all three (so the script must be on each)", keptOn)
	}
	app.Set(ctx, "wb:changed", "4", 0) // a reader's refill of an older row
	per := map[string]int{}
	for _, k := range keys {
		per[holder(t, shards, k)]++
	}
	if len(per) != 3 {
		t.Fatalf("the application's Ring used shards %v; want all three", per)
	}
	rc := config.Default().Redis
	rc.Mode, rc.Shards = "ring", addrs
	m := deleteAll(t, rc, append(append(keys, kept...), "wb:changed"), guarded)
	// The guard script is loaded on every shard before its first use, so
	// no round trip meets NOSCRIPT and is retried.
	if n := testutil.ToFloat64(m.RedisErrors.WithLabelValues("first")); n != 0 {
		t.Errorf("%v failed round trips; want 0", n)
	}
	for _, k := range keys {
		if n := app.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("%q is still cached on its shard", k)
		}
	}
	for _, k := range kept {
		if v := app.Get(ctx, k).Val(); v != "5" {
			t.Errorf("%s = %q; want kept at 5 (its stamp is on its shard)", k, v)
		}
	}
	if app.Exists(ctx, "wb:changed").Val() != 0 {
		t.Error("wb:changed survived; want the guarded delete to remove the refill")
	}
}

// ring_hash: ketama puts each key where twemproxy (nutcracker, ketama,
// fnv1a_64, weights) does: a real nutcracker writes the keys, the layout
// agrees key by key, and cachesync deletes them all.
func TestRingKetamaMatchesTwemproxy(t *testing.T) {
	shards, addrs := startShards(t, "alpha", "beta", "gamma")
	weights := map[string]int{"alpha": 1, "beta": 2, "gamma": 1}
	var servers []testenv.TwemproxyServer
	for _, s := range shards {
		servers = append(servers, testenv.TwemproxyServer{Addr: s.r.Addr, Weight: weights[s.name], Name: s.name})
	}
	proxy := testenv.StartTwemproxy(t, servers)
	ctx := context.Background()
	for _, s := range shards {
		s.c.FlushAll(ctx) // the proxy's own readiness key
	}
	keys := ringKeys(60)
	for _, k := range keys {
		if err := proxy.Set(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	k := NewKetama(weights)
	points := map[string]int{}
	for _, p := range k.points {
		points[p.shard]++
	}
	if points["alpha"] != 120 || points["beta"] != 240 || points["gamma"] != 120 {
		t.Errorf("points per shard %v; want 160 × weight share × 3 shards: alpha 120, beta 240, gamma 120", points)
	}
	for _, key := range keys {
		at := holder(t, shards, key)
		if want := k.Get(hashTag(key)); want != at {
			t.Errorf("twemproxy put %q on %s; Ketama says %s", key, at, want)
		}
	}
	rc := config.Default().Redis
	rc.Mode, rc.Shards, rc.RingHash, rc.ShardWeights = "ring", addrs, "ketama", weights
	deleteAll(t, rc, keys, nil)
	for _, s := range shards {
		if n := s.c.DBSize(ctx).Val(); n != 0 {
			t.Errorf("shard %s still holds %d keys", s.name, n)
		}
	}
}

// hashTag is the part of key go-redis Ring (and twemproxy's hash_tag "{}")
// hashes: what is between the first "{" and the next "}", if not empty.
func hashTag(key string) string {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			return key[s+1 : s+1+e]
		}
	}
	return key
}

// CheckRedis (run's start and `config check --online`) checks every shard
// of a ring, naming the shard: a read-only replica among them is refused,
// a shard that does not answer is reported as unreachable.
func TestRingCheckEveryShard(t *testing.T) {
	master := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, master)
	rc := config.Default().Redis
	rc.Mode, rc.Shards = "ring", map[string]string{"alpha": master.Addr, "beta": replica.Addr}
	ctx := context.Background()
	err := CheckRedis(ctx, newRedis(t, rc), rc)
	if err == nil || !strings.Contains(err.Error(), "redis.shards.beta") || !strings.Contains(err.Error(), "read-only replica") {
		t.Errorf("a replica shard: %v; want it named and refused", err)
	}
	gone := testenv.StartRedis(t)
	gone.Stop(t)
	rc.DialTimeout = config.Duration(200 * time.Millisecond)
	rc.Shards = map[string]string{"alpha": master.Addr, "gamma": gone.Addr}
	err = CheckRedis(ctx, newRedis(t, rc), rc)
	if !errors.Is(err, ErrRedisUnreachable) || !strings.Contains(err.Error(), "redis.shards.gamma") {
		t.Errorf("a shard down: %v; want ErrRedisUnreachable naming gamma", err)
	}
}
