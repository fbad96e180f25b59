package torture

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/cacheaside"
)

// leaseFill is mode lease's fill: cacheaside.Client.Get. A miss stores a
// lease placeholder at the key before the loader runs (the MySQL read, then
// the pause); the fill after it is refused when cachesync deleted the key
// in between, placeholder and all.
type leaseFill struct{ c *cacheaside.Client }

func (l leaseFill) get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	return l.c.Get(ctx, key, load)
}

// leaseFill builds the client. Values live an hour, past any run, so no
// stale key expires before the compare; a lease outlives the longest pause
// by a second, so a slow fill is refused by an invalidation, not by its
// lease running out.
func (o *Options) leaseFill(rdb redis.UniversalClient) (fillStrategy, error) {
	c, err := cacheaside.New(rdb, cacheaside.Config{TTL: time.Hour, LeaseTTL: max(2*time.Second, o.Pause.Max()+time.Second)})
	if err != nil {
		return nil, err
	}
	return leaseFill{c: c}, nil
}

// leaseCounter is a fill strategy that counts its fenced fills.
type leaseCounter interface{ leaseStats() *LeaseStats }

func (l leaseFill) leaseStats() *LeaseStats {
	s := l.c.Stats()
	return &LeaseStats{Fills: s.Fills, RefusedFills: s.RefusedFills, Waits: s.Waits, WaitTimeouts: s.WaitTimeouts,
		Shared: s.Shared, RedisErrors: s.RedisErrors}
}
