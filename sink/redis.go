// Package sink is where invalidations end: the Redis deleter (first and
// second delete, guarded deletes for write-behind's own flushes), the Redis
// client it runs on, and the printer that takes its place on --dry-run.
// The Kafka transport that can sit in front of it is sink/kafka.
package sink

import (
	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// NewRedis builds the go-redis client: one address is a single node, several
// are a cluster, master_name selects sentinel (addrs are then the sentinels).
// go-redis's own retries are off: retry.Backoff is the one policy. With
// redis.tls it reads the TLS files, and its error names the key and file;
// every node and sentinel is then reached over TLS, each checked against
// its own host unless server_name is set.
func NewRedis(c config.RedisConfig) (redis.UniversalClient, error) {
	tlsConf, err := c.TLS.Build("redis.tls")
	if err != nil {
		return nil, err
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
	}), nil
}

// isCluster reports whether multi-key commands may cross slots.
func isCluster(c redis.UniversalClient) bool {
	_, ok := c.(*redis.ClusterClient)
	return ok
}
