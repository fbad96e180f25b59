package sink

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/writebehind"
)

// The guarded delete. The owned keys of a row the write-behind flusher
// itself inserted or updated come marked (event.Batch.Guarded): the cache
// may hold exactly the value that was flushed, or a newer write-behind
// value still to be flushed, and deleting it would only cost a miss; but it
// may as well hold a value a reader refilled after the key expired or was
// invalidated, which the flush has made stale. The scripts stamp each key
// they write with the SHA-1 of its value (writebehind.StampKey), and the
// guard script keeps the key only while that stamp matches: anything else
// is deleted. Both deletes are guarded: a reader that SETs an older value
// between them is caught by the second.

// guardCounts is what the guard scripts of one round trip did.
type guardCounts struct{ kept, deleted int }

// guardable reports whether key i of b gets the guarded delete. In a Redis
// Cluster the key and its stamp must share a slot, which only a hash tag
// ensures; a key without one is deleted plainly (the scripts refuse such a
// key anyway, since the stream must share its slot too).
func guardable(b *event.Batch, i int, cluster bool) bool {
	return b.IsGuarded(i) && (!cluster || hashTagged(b.Keys[i]))
}

// hashTagged reports whether key has a Redis Cluster hash tag: a "{" with a
// "}" after it and something in between. Appending the stamp suffix (no
// braces) keeps that tag, so key and stamp share a slot.
func hashTagged(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}

func hasGuarded(g group) bool {
	for _, b := range g.batches {
		for i := range b.Guarded {
			if b.Guarded[i] {
				return true
			}
		}
	}
	return false
}

// loadGuard loads the guard script (on a cluster, ScriptLoad goes to every master).
func (d *Deleter) loadGuard(ctx context.Context) error {
	if err := d.guard.Load(ctx, d.rdb).Err(); err != nil {
		return fmt.Errorf("loading the guarded-delete script: %w", err)
	}
	d.guardLoaded.Store(true)
	return nil
}

// queueGuards adds one guard script call per guarded key of g to pipe.
func (d *Deleter) queueGuards(ctx context.Context, pipe redis.Pipeliner, g group, cluster bool) []*redis.Cmd {
	var cmds []*redis.Cmd
	for _, b := range g.batches {
		if len(b.Guarded) == 0 {
			continue
		}
		for i, k := range b.Keys {
			if guardable(b, i, cluster) {
				cmds = append(cmds, d.guard.EvalSha(ctx, pipe, []string{k, writebehind.StampKey(k)}))
			}
		}
	}
	return cmds
}

func countGuards(cmds []*redis.Cmd) (guardCounts, error) {
	var c guardCounts
	for _, cmd := range cmds {
		n, err := cmd.Int()
		if err != nil {
			return guardCounts{}, err
		}
		if n == 0 {
			c.kept++
		} else {
			c.deleted++
		}
	}
	return c, nil
}
