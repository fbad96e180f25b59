package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// A sentinel sees the replica, and after the master is killed promotes it:
// the new master takes writes, and the sentinel names it.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, master)
	s := testenv.StartSentinel(t, master, "cache", replica)
	if got := s.MasterAddr(t); got != master.Addr {
		t.Fatalf("sentinel reports master %s, want %s", got, master.Addr)
	}
	if err := master.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rc := replica.Client(t)
	if err := rc.Set(ctx, "x", "y", 0).Err(); err == nil {
		t.Fatal("the replica took a write before the failover")
	}
	master.Kill(t)
	began := time.Now()
	if got := s.WaitFailover(t, 30*time.Second, replica); got != replica {
		t.Fatalf("promoted %s, want the replica %s", got.Addr, replica.Addr)
	}
	t.Logf("failover took %v", time.Since(began).Round(time.Millisecond))
	if got := s.MasterAddr(t); got != replica.Addr {
		t.Errorf("sentinel reports master %s, want %s", got, replica.Addr)
	}
	if err := rc.Set(ctx, "x", "y", 0).Err(); err != nil {
		t.Errorf("the promoted replica refuses a write: %v", err)
	}
}
