package main

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// send deletes the keys of each queued rows event, taking everything already
// queued into the same pipelined round trip, up to batchKeys keys (the
// queue and the round trip are sized as cachesync's defaults size its own:
// transport.queue_size, delete.batch_keys).
func send(ctx context.Context, rdb *redis.Client, queue <-chan []string, batchKeys int) error {
	for {
		var keys []string
		select {
		case keys = <-queue:
		case <-ctx.Done():
			return nil
		}
		pipe := rdb.Pipeline()
		add := func(keys []string) {
			for _, k := range keys {
				pipe.Del(ctx, k)
			}
		}
		add(keys)
	gather:
		for pipe.Len() < batchKeys {
			select {
			case more := <-queue:
				add(more)
			default:
				break gather
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
}
