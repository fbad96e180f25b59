package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is n private redis-server masters forming one Redis Cluster,
// the 16384 slots split evenly between them.
type RedisCluster struct {
	Nodes []*Redis
	Addrs []string
}

// StartRedisCluster starts n (>= 1) cluster-enabled nodes, assigns the slots
// and waits until every node reports cluster_state:ok.
func StartRedisCluster(t testing.TB, n int) *RedisCluster {
	t.Helper()
	c := &RedisCluster{}
	for i := 0; i < n; i++ {
		r := StartRedis(t, RedisOptions{ExtraArgs: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}})
		c.Nodes = append(c.Nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	per := 16384 / n
	for i, r := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: r.Addr})
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = 16383
		}
		err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		if err == nil && i > 0 {
			err = cl.ClusterMeet(ctx, "127.0.0.1", fmt.Sprint(c.Nodes[0].Port)).Err()
		}
		cl.Close()
		fatalIf(t, err)
	}
	for _, r := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: r.Addr})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && containsLine(info, "cluster_state:ok") && containsLine(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			if ctx.Err() != nil {
				cl.Close()
				t.Fatalf("testenv: redis cluster %v not ready: %v %s", c.Addrs, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
	return c
}

// Client returns a cluster client, closed when the test ends.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cl.Close() })
	return cl
}

func containsLine(text, line string) bool {
	for len(text) > 0 {
		i := 0
		for i < len(text) && text[i] != '\n' {
			i++
		}
		l := text[:i]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if l == line {
			return true
		}
		if i == len(text) {
			break
		}
		text = text[i+1:]
	}
	return false
}
