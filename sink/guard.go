package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

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

// guardError is the guard script failing where retrying would not help
// (NOSCRIPT, NOPERM) or loading it failing; deleteOnce acts on it.
type guardError struct{ err error }

func (e *guardError) Error() string { return "guarded delete: " + e.err.Error() }
func (e *guardError) Unwrap() error { return e.err }

// guardCounts is what the guard scripts of one round trip did.
type guardCounts struct{ kept, deleted int }

// guardable reports whether key i of b gets the guarded delete. In a Redis
// Cluster the key and its stamp must share a slot, which only a hash tag
// ensures; a key without one is deleted plainly (the scripts refuse such a
// key anyway, since the stream must share its slot too). A ring needs no
// tag: the script runs whole on KEYS[1]'s shard, as write-behind's did.
// off: the Redis user may not run scripts (see denyGuard), every key is plain.
func guardable(b *event.Batch, i int, cluster, off bool) bool {
	return !off && b.IsGuarded(i) && (!cluster || hashTagged(b.Keys[i]))
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

// loadGuard loads the guard script on every master of a cluster and every
// shard of a ring (a Ring sends SCRIPT LOAD to one shard only).
func (d *Deleter) loadGuard(ctx context.Context) error {
	var err error
	if _, ring := d.rdb.(*redis.Ring); ring {
		err = eachNode(ctx, d.rdb, func(ctx context.Context, n Node) error { return d.guard.Load(ctx, n.Client).Err() })
	} else {
		err = d.guard.Load(ctx, d.rdb).Err()
	}
	if err != nil {
		return &guardError{fmt.Errorf("loading the script: %w", err)}
	}
	d.guardLoaded.Store(true)
	return nil
}

// scriptRefused: an ACL without the scripting commands, or a server or
// proxy without them.
func scriptRefused(err error) bool {
	return redis.HasErrorPrefix(err, "NOPERM") || redis.HasErrorPrefix(err, "unknown command")
}

// denyGuard reports whether err is Redis refusing the guard script to the
// user (an ACL without EVALSHA or SCRIPT LOAD, a proxy without scripting). Retrying cannot help, and
// waiting would stall every invalidation: from then on the guarded keys are
// deleted plainly, which is always safe, and the reason is logged once.
func (d *Deleter) denyGuard(err error) bool {
	var ge *guardError
	if !errors.As(err, &ge) || !scriptRefused(err) {
		return false // a plain UNLINK refused is CheckRedis' business, and retried
	}
	if d.guardDenied.CompareAndSwap(false, true) {
		d.log.Error("the redis user may not run the guarded-delete script: write-behind's owned keys are deleted plainly at each flush (safe, but they drop out of the cache); grant it +evalsha +eval +script|load",
			zap.Error(err))
	}
	return true
}

// queueGuards adds one guard script call per guarded key of g to pipe.
func (d *Deleter) queueGuards(ctx context.Context, pipe redis.Pipeliner, g group, cluster, off bool) []*redis.Cmd {
	var cmds []*redis.Cmd
	for _, b := range g.batches {
		if len(b.Guarded) == 0 || off {
			continue
		}
		for i, k := range b.Keys {
			if guardable(b, i, cluster, off) {
				cmds = append(cmds, d.guard.EvalSha(ctx, pipe, []string{k, writebehind.StampKey(k)}))
			}
		}
	}
	return cmds
}

// countGuards reads the guard results of a round trip that ended with err.
// A guard's own NOSCRIPT or NOPERM comes first, for deleteOnce to act on.
func countGuards(cmds []*redis.Cmd, err error) (guardCounts, error) {
	for _, cmd := range cmds {
		if e := cmd.Err(); redis.HasErrorPrefix(e, "NOSCRIPT") || scriptRefused(e) {
			return guardCounts{}, &guardError{e}
		}
	}
	if err != nil {
		return guardCounts{}, err
	}
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
