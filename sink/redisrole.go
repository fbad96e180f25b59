package sink

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

// checkWritable refuses a Redis that answers but cannot delete: a read-only
// replica fails every UNLINK with READONLY, which the deleter would retry
// forever while invalidations pile up. A cluster client routes to the
// primaries itself, and a sentinel client asks the sentinels for the
// primary, so only a plain address is asked for its ROLE. A user not
// allowed ROLE is not refused here: its deletes will tell.
func checkWritable(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig) error {
	if _, plain := rdb.(*redis.Client); !plain || c.MasterName != "" {
		return nil
	}
	res, err := rdb.Do(ctx, "ROLE").Slice()
	if err != nil || len(res) == 0 {
		return nil
	}
	role, _ := res[0].(string)
	if role != "slave" && role != "replica" {
		return nil
	}
	of := "its primary"
	if len(res) >= 3 {
		of = fmt.Sprintf("%v:%v", res[1], res[2])
	}
	return fmt.Errorf("redis.addrs %v: the server is a read-only replica of %s, so every delete would fail with READONLY: point redis.addrs at the primary (%s), or use redis.master_name with the sentinels so a failover is followed",
		c.Addrs, of, of)
}
