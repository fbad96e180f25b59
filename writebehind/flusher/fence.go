package flusher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/writebehind"
)

// Fencing. The lease alone cannot stop a flusher that was paused (GC, a
// frozen VM, SIGSTOP) past its lease: on waking it still reads and commits
// as if it held the stream, and its commit moves the stored last-applied ID
// past entries the new holder has read but not applied yet, which the new
// holder then acknowledges as "already applied". So every lease comes with
// a fencing token (INCR of <stream>:lease:token, taken after the lease, so
// a later holder always has a larger one); the new holder records it in the
// stream's offsets row before it reads anything, and a flush transaction
// whose token is older than the stored one is rolled back and its flusher
// stands by (errFenced).

var errFenced = errors.New("a newer flusher has taken this stream over (its lease token is in " + writebehind.OffsetsTable + "): this one stands by")

func (f *Flusher) tokenKey() string { return f.cfg.stream() + ":lease:token" }

var raiseCounter = redis.NewScript(`local v = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`)

// raiseTokens makes the next token larger than stored. A stored token at or
// above the counter means the counter was lost (a flushed or failed-over
// Redis); counting up from where it is would fence every flusher out for
// as many takeovers. Raising it is always safe: tokens only grow.
func (f *Flusher) raiseTokens(ctx context.Context, stored uint64) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := raiseCounter.Run(ctx, f.rdb, []string{f.tokenKey()}, stored).Err(); err != nil {
		f.log.Warn("raising the lease token counter failed; the next takeover tries again", zap.String("key", f.tokenKey()), zap.Error(err))
	}
}

// adoptStrays adds to a batch the entries pending to other consumers of the
// group. Only the lease holder reads, so those were read by a flusher that
// has lost the stream (and will be refused): applied now, in ID order with
// the batch, or — when an earlier holder had committed them — acknowledged
// as applied. Without this, entries read by a paused flusher after the
// takeover would wait in its pending list until the next takeover, by which
// time the stored ID would be past them.
func (f *Flusher) adoptStrays(ctx context.Context, msgs []redis.XMessage) ([]redis.XMessage, error) {
	var strays []redis.XMessage
	err := f.retry(ctx, "redis", "adopting entries of earlier flushers", func(ctx context.Context) error {
		var err error
		strays, err = f.strays(ctx)
		return err
	})
	if err != nil || len(strays) == 0 {
		return msgs, err
	}
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		seen[m.ID] = true
	}
	n := 0
	for _, m := range strays {
		if !seen[m.ID] {
			msgs = append(msgs, m)
			seen[m.ID] = true
			n++
		}
	}
	if n > 0 {
		f.log.Warn("adopted entries read by a flusher that lost the stream", zap.Int("entries", n))
	}
	slices.SortFunc(msgs, func(a, b redis.XMessage) int { return writebehind.CompareIDs(a.ID, b.ID) })
	return msgs, nil
}

// strays claims every entry pending to another consumer; nil when none is.
func (f *Flusher) strays(ctx context.Context) ([]redis.XMessage, error) {
	p, err := f.rdb.XPending(ctx, f.cfg.stream(), f.cfg.group()).Result()
	if err != nil {
		return nil, fmt.Errorf("XPENDING on stream %s: %w", f.cfg.stream(), err)
	}
	others := false
	for name, n := range p.Consumers {
		others = others || name != f.consumer && n > 0
	}
	if !others {
		return nil, nil
	}
	var out []redis.XMessage
	for start := "0-0"; ; {
		msgs, next, err := f.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: f.cfg.stream(), Group: f.cfg.group(),
			Consumer: f.consumer, Start: start, Count: 1000}).Result()
		if err != nil {
			return nil, fmt.Errorf("XAUTOCLAIM on stream %s from %s: %w", f.cfg.stream(), start, err)
		}
		out = append(out, msgs...)
		if next == "0-0" || next == "" {
			return out, nil
		}
		start = next
	}
}
