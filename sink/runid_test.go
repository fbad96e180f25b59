package sink

import (
	"context"
	"testing"
	"time"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// RunIDs reads the run of every master of a cluster, by address; a node
// restarted gets a new run_id and a recent start, the others keep theirs.
func TestRunIDsClusterMasters(t *testing.T) {
	cl := testenv.StartRedisCluster(t, 3)
	rc := config.Default().Redis
	rc.Addrs = cl.Addrs
	rdb := newRedis(t, rc)
	ctx := context.Background()
	before, err := RunIDs(ctx, rdb, rc)
	if err != nil || len(before) != 3 {
		t.Fatalf("RunIDs = %v, %v; want the 3 masters", before, err)
	}
	for _, a := range cl.Addrs {
		if before[a].RunID == "" {
			t.Fatalf("no run_id for master %s: %v", a, before)
		}
	}
	restarted := cl.Nodes[0]
	restarted.Stop(t)
	restarted.Start(t)
	var after map[string]ServerRun
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after, err = RunIDs(ctx, rdb, rc)
		if err == nil && len(after) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a node restart RunIDs = %v, %v", after, err)
		}
	}
	for _, a := range cl.Addrs {
		changed := after[a].RunID != before[a].RunID
		if changed != (a == restarted.Addr) {
			t.Errorf("master %s: run_id %s → %s; want a change only on the restarted node", a, before[a].RunID, after[a].RunID)
		}
	}
	if since := time.Since(after[restarted.Addr].Started); since > 30*time.Second {
		t.Errorf("the restarted node started %s ago; want its new uptime", since)
	}
}
