// Package sink is where invalidations end: the Redis deleter (first and
// second delete, guarded deletes for write-behind's own flushes), the Redis
// client it runs on (one node, a Cluster, Sentinel, or a client-side ring
// of shards), the run_ids that show a server restarted, and the printer
// that takes its place on --dry-run.
// The Kafka transport that can sit in front of it is sink/kafka.
package sink

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// NewRedis builds the go-redis client: one address is a single node, several
// are a cluster, master_name selects sentinel (addrs are then the sentinels),
// mode: ring a go-redis Ring over the named shards (see ring.go).
// go-redis's own retries are off: retry.Backoff is the one policy. With
// redis.tls it reads the TLS files, and its error names the key and file;
// every node and sentinel is then reached over TLS, each checked against
// its own host unless server_name is set.
func NewRedis(c config.RedisConfig) (redis.UniversalClient, error) {
	return NewRedisNotify(c, nil)
}

// NewRedisNotify is NewRedis with onConnect called (it must not block)
// each time the client opens a connection to any node: a new connection
// after a failure may meet a restarted server (see RunIDs).
func NewRedisNotify(c config.RedisConfig, onConnect func()) (redis.UniversalClient, error) {
	var hook func(context.Context, *redis.Conn) error
	if onConnect != nil {
		hook = func(context.Context, *redis.Conn) error { onConnect(); return nil }
	}
	tlsConf, err := c.TLS.Build("redis.tls")
	if err != nil {
		return nil, err
	}
	if c.Mode == "ring" {
		return newRing(c, tlsConf, hook), nil
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:      c.Addrs,
		DB:         c.DB,
		Username:   c.Username,
		Password:   c.Password.Reveal(),
		MasterName: c.MasterName,
		// The sentinels' own credentials, when they require a password.
		SentinelUsername: c.SentinelUsername,
		SentinelPassword: c.SentinelPassword.Reveal(),
		PoolSize:         c.PoolSize,
		DialTimeout:      c.DialTimeout.D(),
		ReadTimeout:      c.ReadTimeout.D(),
		WriteTimeout:     c.ReadTimeout.D(),
		MaxRetries:       -1,
		TLSConfig:        tlsConf,
		OnConnect:        hook,
	}), nil
}

// isCluster reports whether multi-key commands may cross slots.
func isCluster(c redis.UniversalClient) bool {
	_, ok := c.(*redis.ClusterClient)
	return ok
}

// perKeyRouted reports whether every key needs a command of its own so the
// client can route it: a cluster (slots) or a ring (shards).
func perKeyRouted(c redis.UniversalClient) bool {
	switch c.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return true
	}
	return false
}
