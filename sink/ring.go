package sink

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// Client-side sharding (redis.mode: ring). The deletes go through a
// go-redis Ring built with the application's shard names, so each key is
// deleted on the shard the application's Ring (same names) reads it from:
// go-redis's own rendezvous hashing, or twemproxy's ketama
// (ring_hash: ketama, see Ketama). Two things differ from an application's
// Ring on purpose:
//   - a shard that stops answering is never taken out of the layout. The
//     application's Ring moves a dead shard's keys to the others; deletes
//     moved that way would "succeed" on a shard that does not hold the
//     stale value, and the shard would come back with it. Here they wait
//     and retry, like every delete while Redis is down.
//   - commands carry one key each (the Ring routes a command by its first
//     key), and the guard script, which runs where KEYS[1] lives, reads the
//     stamp on that same shard — where write-behind's script, routed the
//     same way, wrote it.

// newRing builds the Ring of c.Shards.
func newRing(c config.RedisConfig, tlsConf *tls.Config, hook func(context.Context, *redis.Conn) error) *redis.Ring {
	opt := &redis.RingOptions{
		Addrs:        c.Shards,
		DB:           c.DB,
		Username:     c.Username,
		Password:     c.Password.Reveal(),
		PoolSize:     c.PoolSize,
		DialTimeout:  c.DialTimeout.D(),
		ReadTimeout:  c.ReadTimeout.D(),
		WriteTimeout: c.ReadTimeout.D(),
		MaxRetries:   -1,
		TLSConfig:    tlsConf,
		OnConnect:    hook,
		// Every shard stays in the layout, up or down (see above).
		HeartbeatFn: func(context.Context, *redis.Client) bool { return true },
	}
	if c.RingHash == "ketama" {
		weights := map[string]int{}
		for _, name := range c.RingShards() {
			weights[name] = c.ShardWeight(name)
		}
		k := NewKetama(weights)
		opt.NewConsistentHash = func([]string) redis.ConsistentHash { return k }
	}
	return redis.NewRing(opt)
}

// Node is one server cachesync deletes on, with its address.
type Node struct {
	Addr   string
	Client *redis.Client
}

// eachNode calls fn for every server rdb deletes on: the one node, every
// master of a cluster, every shard of a ring; the first error, naming the
// node, is returned after all were called.
func eachNode(ctx context.Context, rdb redis.UniversalClient, fn func(ctx context.Context, n Node) error) error {
	wrap := func(ctx context.Context, c *redis.Client) error {
		if err := fn(ctx, Node{Addr: c.Options().Addr, Client: c}); err != nil {
			return fmt.Errorf("redis %s: %w", c.Options().Addr, err)
		}
		return nil
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, wrap)
	case *redis.Ring:
		return c.ForEachShard(ctx, wrap)
	case *redis.Client:
		return wrap(ctx, c)
	}
	return fmt.Errorf("redis client %T is not supported", rdb)
}
