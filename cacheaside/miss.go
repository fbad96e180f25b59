package cacheaside

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Waiting on another reader's placeholder polls the key, first after
// firstPoll, then twice as long each time up to maxPoll, never past
// HotMissWait.
const (
	firstPoll = time.Millisecond
	maxPoll   = 16 * time.Millisecond
)

// miss is the miss path of one key: take the lease and fill, or wait for
// another reader's fill, or — after HotMissWait — load without filling.
func (c *Client) miss(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	placeholder, err := newPlaceholder()
	if err != nil {
		return nil, fmt.Errorf("cacheaside get %q: %w", key, err)
	}
	var deadline time.Time
	poll := firstPoll
	for {
		cur, err := c.lease.Run(ctx, c.rdb, []string{key}, placeholder, c.cfg.LeaseTTL.Milliseconds()).Text()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cacheaside lease %q: %w", key, err)
			}
			c.stats.redisErrors.Add(1)
			return c.loadOnly(ctx, key, load, "redis: "+err.Error())
		}
		if cur == placeholder {
			return c.loadAndFill(ctx, key, placeholder, load)
		}
		k, v, err := decode([]byte(cur))
		switch {
		case err != nil:
			return nil, fmt.Errorf("cacheaside lease %q: %w", key, err)
		case k == isValue:
			return v, nil // filled since our GET
		case k == isNotFound:
			return nil, fmt.Errorf("cacheaside get %q: %w (cached)", key, ErrNotFound)
		}
		// Another reader holds the lease: wait for its fill, bounded.
		now := time.Now()
		if deadline.IsZero() {
			c.stats.waits.Add(1)
			deadline = now.Add(c.cfg.HotMissWait)
		}
		if !now.Before(deadline) {
			c.stats.waitTimeouts.Add(1)
			return c.loadOnly(ctx, key, load, "another reader holds the lease")
		}
		if err := sleep(ctx, min(poll, deadline.Sub(now))); err != nil {
			return nil, fmt.Errorf("cacheaside get %q: waiting for another reader's fill: %w", key, err)
		}
		poll = min(2*poll, maxPoll)
	}
}

// loadAndFill loads under the lease placeholder holds and fills: the value,
// or a tombstone when the row does not exist and NegativeTTL is set. On any
// other outcome it gives the lease back, so waiting readers need not wait
// it out.
func (c *Client) loadAndFill(ctx context.Context, key, placeholder string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	c.stats.loads.Add(1)
	v, lerr := load(ctx)
	switch {
	case lerr == nil:
		stored := encode(v)
		if c.cfg.Version != nil {
			if ver, ok := c.cfg.Version(v); ok {
				stored = encodeVersioned(ver, v)
			}
		}
		if err := c.store(ctx, key, placeholder, stored, c.cfg.TTL); err != nil {
			return nil, err
		}
		return v, nil
	case errors.Is(lerr, ErrNotFound) && c.cfg.NegativeTTL > 0:
		if err := c.store(ctx, key, placeholder, []byte(tombstone), c.cfg.NegativeTTL); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("cacheaside load %q: %w", key, lerr)
	}
	// The release runs even when ctx has ended (the load may have failed
	// because of it): a placeholder left behind costs others a wait.
	if err := c.release.Run(context.WithoutCancel(ctx), c.rdb, []string{key}, placeholder).Err(); err != nil {
		lerr = errors.Join(lerr, fmt.Errorf("giving the lease back: %w", err))
	}
	return nil, fmt.Errorf("cacheaside load %q: %w", key, lerr)
}

// store runs the fenced fill and counts whether it was refused. A fill
// Redis fails is an error only when ctx ended: otherwise the caller keeps
// the value it loaded (uncached, counted in RedisErrors), and the lease
// expires on its own.
func (c *Client) store(ctx context.Context, key, placeholder string, stored []byte, ttl time.Duration) error {
	ok, err := c.fill.Run(ctx, c.rdb, []string{key}, placeholder, stored, c.expiry(ttl)).Int64()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("cacheaside fill %q: %w", key, err)
		}
		c.stats.redisErrors.Add(1)
		return nil
	}
	if ok == 1 {
		c.stats.fills.Add(1)
	} else {
		c.stats.refusedFills.Add(1)
	}
	return nil
}

// loadOnly loads without caching, for why: another reader held the lease
// too long, or Redis failed.
func (c *Client) loadOnly(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error), why string) ([]byte, error) {
	c.stats.loads.Add(1)
	v, err := load(ctx)
	if err != nil {
		return nil, fmt.Errorf("cacheaside load %q (not cached: %s): %w", key, why, err)
	}
	return v, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
