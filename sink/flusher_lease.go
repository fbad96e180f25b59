package sink

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

// One flusher per stream applies entries at a time: two consumers of one
// group would apply different entries concurrently and out of order, and the
// stored last-applied ID could then acknowledge an entry nobody applied.
// The lease is a Redis key holding the active consumer's name with a TTL,
// renewed at a third of it; a standby flusher takes over once it expires.

var renewLease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`)

var dropLease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (f *Flusher) leaseKey() string { return f.cfg.stream() + ":lease" }

// acquireLease waits until this flusher holds the lease or ctx ends.
func (f *Flusher) acquireLease(ctx context.Context) error {
	ttl := f.cfg.leaseTTL()
	logged := false
	for {
		ok, err := f.rdb.SetNX(ctx, f.leaseKey(), f.consumer, ttl).Result()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			f.m.redisErrs.Inc()
			if f.cfg.OnFailure != nil {
				f.cfg.OnFailure(err)
			}
		} else if f.cfg.OnSuccess != nil {
			f.cfg.OnSuccess() // standing by is healthy
		}
		if !logged {
			holder, _ := f.rdb.Get(ctx, f.leaseKey()).Result()
			f.log.Info("another flusher holds the stream's lease: standing by to take over", zap.String("holder", holder), zap.Error(err))
			logged = true
		}
		if err := retry.SleepCtx(ctx, ttl/3); err != nil {
			return err
		}
	}
}

// keepLease renews the lease until ctx ends; it cancels ctx with
// errLeaseLost when the lease is gone or could not be renewed for a whole
// TTL (another flusher may have taken over by then).
func (f *Flusher) keepLease(ctx context.Context, cancel context.CancelCauseFunc) {
	ttl := f.cfg.leaseTTL()
	renewed := time.Now()
	for retry.SleepCtx(ctx, ttl/3) == nil {
		n, err := renewLease.Run(ctx, f.rdb, []string{f.leaseKey()}, f.consumer, ttl.Milliseconds()).Int()
		switch {
		case err == nil && n == 1:
			renewed = time.Now()
		case err == nil:
			cancel(errLeaseLost)
			return
		case time.Since(renewed) >= ttl-ttl/6:
			cancel(errLeaseLost)
			return
		}
	}
}

func (f *Flusher) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = dropLease.Run(ctx, f.rdb, []string{f.leaseKey()}, f.consumer).Err()
}

// reportBacklog updates the pending and oldest-age gauges, at most once a
// second, and warns (at most every 30 s) when the backlog is past the threshold.
func (f *Flusher) reportBacklog(ctx context.Context) {
	if time.Since(f.lastReport) < time.Second {
		return
	}
	f.lastReport = time.Now()
	groups, err := f.rdb.XInfoGroups(ctx, f.cfg.stream()).Result()
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name != f.cfg.group() {
			continue
		}
		backlog := g.Pending + max(g.Lag, 0)
		f.m.pending.Set(float64(backlog))
		f.m.oldest.Set(f.oldestAge(ctx, g))
		if backlog > f.cfg.backlogWarn() && time.Since(f.lastWarn) > 30*time.Second {
			f.lastWarn = time.Now()
			f.log.Warn("write-behind backlog is growing: MySQL is slower than the writes, or down",
				zap.Int64("entries_waiting", backlog), zap.Int64("threshold", f.cfg.backlogWarn()))
		}
	}
}

// oldestAge is the age in seconds of the oldest entry not yet flushed.
func (f *Flusher) oldestAge(ctx context.Context, g redis.XInfoGroup) float64 {
	var oldest string
	if g.Pending > 0 {
		if p, err := f.rdb.XPending(ctx, f.cfg.stream(), f.cfg.group()).Result(); err == nil {
			oldest = p.Lower
		}
	} else if g.Lag != 0 {
		if msgs, err := f.rdb.XRangeN(ctx, f.cfg.stream(), "("+g.LastDeliveredID, "+", 1).Result(); err == nil && len(msgs) > 0 {
			oldest = msgs[0].ID
		}
	}
	if oldest == "" {
		return 0
	}
	age := time.Since(time.UnixMilli(int64(writebehind.IDMillis(oldest)))).Seconds()
	return max(age, 0)
}

// errCrash marks a hook's simulated crash: never retried.
var errCrash = errors.New("simulated crash")
