// Package retry holds the one backoff policy every retried operation uses:
// exponential with full jitter, capped, and with sleeps that tests can inject.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff computes waits between attempts. The zero value works: each
// default lives in one accessor.
type Backoff struct {
	Initial time.Duration // first wait; default 50ms
	Max     time.Duration // cap on one wait; default 5s
	// MaxElapsed gives up after this much total waiting; 0 means never, which
	// is what the deleter wants: Redis down means wait, never drop.
	MaxElapsed time.Duration
	// Sleep waits d or until ctx ends; default is a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0,1); default math/rand/v2.
	Rand func() float64
}

func (b Backoff) initial() time.Duration {
	if b.Initial <= 0 {
		return 50 * time.Millisecond
	}
	return b.Initial
}

func (b Backoff) max() time.Duration {
	if b.Max <= 0 {
		return 5 * time.Second
	}
	if b.Max < b.initial() {
		return b.initial()
	}
	return b.Max
}

func (b Backoff) sleep(ctx context.Context, d time.Duration) error {
	if b.Sleep != nil {
		return b.Sleep(ctx, d)
	}
	return SleepCtx(ctx, d)
}

func (b Backoff) rand() float64 {
	if b.Rand != nil {
		return b.Rand()
	}
	return rand.Float64()
}

// Delay is the wait before retry number attempt (0-based): a random value
// between half and all of min(Max, Initial·2^attempt). Keeping half of the
// step avoids a thundering herd without collapsing to zero waits.
func (b Backoff) Delay(attempt int) time.Duration {
	step := b.initial()
	for i := 0; i < attempt && step < b.max(); i++ {
		step *= 2
	}
	if step > b.max() {
		step = b.max()
	}
	half := step / 2
	return half + time.Duration(b.rand()*float64(step-half))
}

// Permanent marks an error that retrying cannot fix.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// MarkPermanent wraps err so Do stops retrying it.
func MarkPermanent(err error) error {
	if err == nil {
		return nil
	}
	return &Permanent{Err: err}
}

// IsPermanent reports whether err, or anything it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}

// Do runs op until it succeeds, returns a permanent error, ctx ends, or
// MaxElapsed is used up. onRetry (may be nil) sees every failure before the
// wait, so callers can count and log it.
func (b Backoff) Do(ctx context.Context, op func(ctx context.Context) error, onRetry func(attempt int, err error, wait time.Duration)) error {
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		wait := b.Delay(attempt)
		if b.MaxElapsed > 0 && waited+wait > b.MaxElapsed {
			return err
		}
		if onRetry != nil {
			onRetry(attempt, err, wait)
		}
		if serr := b.sleep(ctx, wait); serr != nil {
			return errors.Join(err, serr)
		}
		waited += wait
	}
}

// SleepCtx waits d or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
