package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// ServerRun is what INFO server says of one run of a Redis server: its
// run_id (new at every start) and when that run started.
type ServerRun struct {
	RunID   string
	Started time.Time
}

// RunIDs reads the run of every server rdb deletes on, keyed by a name for
// it: its address (the node, every cluster master, every ring shard), or
// "sentinel master NAME" behind Sentinel, whose address moves with
// failovers. Servers that answer are returned even when others fail; the
// error names the ones that did not.
func RunIDs(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig) (map[string]ServerRun, error) {
	var mu sync.Mutex
	out := map[string]ServerRun{}
	var errs []error
	now := time.Now()
	_ = eachNode(ctx, rdb, func(ctx context.Context, n Node) error {
		run, err := serverRun(ctx, n.Client, now)
		name := n.Addr
		if c.MasterName != "" {
			name = "sentinel master " + c.MasterName
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("redis %s: INFO server: %w", name, err))
			return nil
		}
		out[name] = run
		return nil
	})
	return out, errors.Join(errs...)
}

func serverRun(ctx context.Context, c *redis.Client, now time.Time) (ServerRun, error) {
	info, err := c.InfoMap(ctx, "server").Result()
	if err != nil {
		return ServerRun{}, err
	}
	s := info["Server"]
	id := s["run_id"]
	if id == "" {
		return ServerRun{}, errors.New("no run_id in INFO server")
	}
	up, _ := strconv.ParseInt(s["uptime_in_seconds"], 10, 64)
	return ServerRun{RunID: id, Started: now.Add(-time.Duration(up) * time.Second)}, nil
}
