package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := rdb.Ping(cctx).Err()
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
		return fmt.Errorf("redis %v refused the credentials (%s): check redis.username and redis.password / redis.password_file", c.Addrs, firstWord(msg))
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis %v: user %q may not run PING/UNLINK (%s): grant it +ping +unlink +del on the cached keys", c.Addrs, c.Username, firstWord(msg))
	case strings.Contains(msg, "DB index is out of range"), strings.Contains(msg, "invalid DB index"):
		return fmt.Errorf("redis %v has no database %d: fix redis.db", c.Addrs, c.DB)
	}
	return fmt.Errorf("%w: %v at %v", ErrRedisUnreachable, err, c.Addrs)
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}
