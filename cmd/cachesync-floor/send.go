package main

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// queueSize bounds the rows events waiting for the sender, batchKeys the
// keys of one round trip (cachesync's transport.queue_size and
// delete.batch_keys defaults).
const (
	queueSize = 256
	batchKeys = 512
)

// send deletes the keys of each queued rows event, taking everything already
// queued into the same pipelined round trip.
func send(ctx context.Context, rdb *redis.Client, queue <-chan []string) error {
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
