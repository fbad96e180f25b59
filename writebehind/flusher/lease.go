package flusher

import (
	"context"
	"errors"
	"fmt"
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
// renewed every sixth of it; the holder stands down when it could not renew
// for half of it, so it stops well before a standby can take over (which it
// does once the key expires). The lease alone cannot stop a paused flusher:
// see the fencing token (fence.go).

var renewLease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`)

var dropLease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (f *Flusher) leaseKey() string { return f.cfg.stream() + ":lease" }

// acquireLease waits until this flusher holds the lease, with a fencing
// token newer than every earlier holder's, or ctx ends. It returns when the
// lease was requested: the lease is held at most a TTL from then.
func (f *Flusher) acquireLease(ctx context.Context) (time.Time, error) {
	ttl := f.cfg.leaseTTL()
	logged := false
	for {
		sent := time.Now()
		ok, err := f.rdb.SetNX(ctx, f.leaseKey(), f.consumer, ttl).Result()
		if err == nil && ok {
			if f.token, err = f.rdb.Incr(ctx, f.tokenKey()).Uint64(); err == nil {
				return sent, nil
			}
			f.releaseLease() // no token, no writing: try again
			err = fmt.Errorf("INCR %s (the lease's fencing token): %w", f.tokenKey(), err)
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
			return time.Time{}, err
		}
	}
}

// keepLease renews the lease (requested at since) until ctx ends; it
// cancels ctx with errLeaseLost when the lease is gone, or when it could not
// be renewed and half a TTL is left before it may expire.
func (f *Flusher) keepLease(ctx context.Context, cancel context.CancelCauseFunc, since time.Time) {
	ttl := f.cfg.leaseTTL()
	standDown := since.Add(ttl - ttl/2)
	for {
		wait := min(ttl/6, time.Until(standDown))
		if retry.SleepCtx(ctx, max(wait, 0)) != nil {
			return
		}
		callHook(f.hooks.beforeRenew)
		if !time.Now().Before(standDown) {
			callHook(f.hooks.standDown)
			cancel(errLeaseLost)
			return
		}
		sent := time.Now()
		n, err := f.renew(ctx, standDown)
		switch {
		case err == nil && n == 1:
			standDown = sent.Add(ttl - ttl/2)
		case err == nil:
			cancel(errLeaseLost)
			return
		default:
			f.m.redisErrs.Inc() // retried at the next tick, until standDown
		}
	}
}

// renew extends the lease by a TTL; 1 when it did, 0 when the lease is
// not this flusher's.
func (f *Flusher) renew(ctx context.Context, deadline time.Time) (int, error) {
	if f.hooks.failRenew != nil && f.hooks.failRenew() {
		return 0, errors.New("renewal failed by a test hook")
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return renewLease.Run(rctx, f.rdb, []string{f.leaseKey()}, f.consumer, f.cfg.leaseTTL().Milliseconds()).Int()
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
