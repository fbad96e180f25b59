package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// ErrRedisUnreachable means Redis did not answer at start-up. It is not
// fatal for run: the deleter waits for Redis like it does mid-stream.
var ErrRedisUnreachable = errors.New("redis unreachable")

// CheckRedis pings Redis once at start-up so that bad input — a wrong
// password, a user without the right ACL, a wrong db — fails at once with a
// clear message instead of turning into endless retries. A Redis that is
// merely down is reported as ErrRedisUnreachable.
func CheckRedis(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig) error {
	if ring, ok := rdb.(*redis.Ring); ok {
		return checkShards(ctx, ring, c)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := rdb.Ping(cctx).Err()
	if err == nil {
		return checkWritable(cctx, rdb, c)
	}
	msg := err.Error()
	refused := strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH")
	switch {
	case c.MasterName != "" && refused && strings.Contains(msg, "sentinels"):
		return fmt.Errorf("redis sentinels %v refused the credentials (%s): check redis.sentinel_username and redis.sentinel_password / redis.sentinel_password_file (the sentinels' own; redis.password is the master's)",
			c.Addrs, sentinelReason(msg))
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
		return fmt.Errorf("redis %v refused the credentials (%s): check redis.username and redis.password / redis.password_file", c.Addrs, firstWord(msg))
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis %v: user %q may not run PING/UNLINK (%s): grant it +ping +unlink +del on the cached keys", c.Addrs, c.Username, firstWord(msg))
	case strings.Contains(msg, "DB index is out of range"), strings.Contains(msg, "invalid DB index"):
		return fmt.Errorf("redis %v has no database %d: fix redis.db", c.Addrs, c.DB)
	}
	if perm := explainTLS(err, c); perm != nil {
		return perm
	}
	switch {
	case !c.TLS.Active() && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Errorf("%w: %v at %v (a server that speaks only TLS closes plain connections like this: then set redis.tls)", ErrRedisUnreachable, err, c.Addrs)
	case c.TLS.Active():
		// A plain server does not answer a TLS hello: the handshake waits.
		return fmt.Errorf("%w: %v at %v (redis.tls is on: check that these are the servers' TLS ports)", ErrRedisUnreachable, err, c.Addrs)
	}
	return fmt.Errorf("%w: %v at %v", ErrRedisUnreachable, err, c.Addrs)
}

// explainTLS turns a TLS mismatch, which waiting would not fix, into an
// error that says what to change; nil for other errors.
func explainTLS(err error, c config.RedisConfig) error {
	var hostErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &hostErr):
		return fmt.Errorf("redis %v: the server's certificate is not valid for the name checked (%v): set redis.tls.server_name to a name in it", c.Addrs, hostErr)
	case errors.As(err, &certErr):
		return fmt.Errorf("redis %v: the server's certificate is not trusted (%v): set redis.tls.ca_file to the CA that signed it", c.Addrs, certErr.Err)
	case errors.As(err, &recErr):
		return fmt.Errorf("redis %v does not speak TLS, which redis.tls turns on: point redis.addrs at the server's tls-port, or remove redis.tls", c.Addrs)
	}
	return nil
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// sentinelReason is the server's error word inside go-redis's "all
// sentinels ... are unreachable: WRONGPASS ..." message.
func sentinelReason(msg string) string {
	for _, w := range []string{"WRONGPASS", "NOAUTH"} {
		if strings.Contains(msg, w) {
			return w
		}
	}
	return firstWord(msg)
}

// checkShards checks every shard of a ring as a single node of its own
// (credentials, ACL, db, a read-only replica), naming the shard: a key's
// deletes go to its shard only, so one bad shard leaves its keys stale.
// ErrRedisUnreachable only when no shard refused outright.
func checkShards(ctx context.Context, ring *redis.Ring, c config.RedisConfig) error {
	names := map[string]string{}
	for name, addr := range c.Shards {
		names[addr] = name
	}
	var mu sync.Mutex
	var refused, down []error
	_ = ring.ForEachShard(ctx, func(ctx context.Context, sc *redis.Client) error {
		addr := sc.Options().Addr
		one := c
		one.Mode, one.Addrs, one.Shards = "auto", []string{addr}, nil
		err := CheckRedis(ctx, sc, one)
		if err == nil {
			return nil
		}
		err = fmt.Errorf("redis.shards.%s: %w", names[addr], err)
		mu.Lock()
		defer mu.Unlock()
		if errors.Is(err, ErrRedisUnreachable) {
			down = append(down, err)
		} else {
			refused = append(refused, err)
		}
		return nil
	})
	if len(refused) > 0 {
		return errors.Join(refused...)
	}
	return errors.Join(down...)
}
