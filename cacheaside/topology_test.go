package cacheaside_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/internal/testenv"
)

// paths runs miss+fill, hit and a refused fill (UNLINK during the load) on
// keys spread over every node of rdb's topology.
func paths(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	for i := range 12 {
		key := fmt.Sprintf("user:%d:😀", i)
		calls := 0
		if got := get(t, c, key, value("v", &calls)); got != "v" {
			t.Errorf("%s: miss %q", key, got)
		}
		if got := get(t, c, key, noLoad(t)); got != "v" {
			t.Errorf("%s: hit %q", key, got)
		}
		rdb.Unlink(ctx, key)
		got := get(t, c, key, func(ctx context.Context) ([]byte, error) {
			return []byte("old"), rdb.Unlink(ctx, key).Err()
		})
		if n, _ := rdb.Exists(ctx, key).Result(); got != "old" || n != 0 {
			t.Errorf("%s: refused fill returned %q and left %d keys", key, got, n)
		}
	}
	if s := c.Stats(); s.Fills != 12 || s.RefusedFills != 12 || s.Hits != 12 {
		t.Errorf("stats %+v", s)
	}
}

func TestCluster(t *testing.T) {
	cl := testenv.StartRedisCluster(t, 3)
	rdb := cl.Client(t)
	paths(t, rdb)
	// Filled keys land on more than one node: every script ran where its one key lives.
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	for i := range 12 {
		calls := 0
		get(t, c, fmt.Sprintf("user:%d:😀", i), value("v", &calls))
	}
	nodes := 0
	for _, n := range cl.Nodes {
		if size, _ := n.Client(t).DBSize(context.Background()).Result(); size > 0 {
			nodes++
		}
	}
	if nodes < 2 {
		t.Errorf("keys on %d node(s); the test needs them spread", nodes)
	}
}

func TestSentinel(t *testing.T) {
	master := testenv.StartRedis(t)
	s := testenv.StartSentinel(t, master, "cache")
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{MasterName: "cache", Addrs: []string{s.Addr}})
	t.Cleanup(func() { rdb.Close() })
	paths(t, rdb)
}
