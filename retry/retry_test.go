package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, Rand: func() float64 { return 0.999999 }}
	want := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, w := range want {
		got := b.Delay(i)
		w *= time.Millisecond
		if got > w || got < w/2 {
			t.Errorf("attempt %d: delay %v, want in [%v,%v]", i, got, w/2, w)
		}
	}
	lo := Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, Rand: func() float64 { return 0 }}
	if got := lo.Delay(3); got != 40*time.Millisecond {
		t.Errorf("lowest jitter at attempt 3 = %v, want 40ms", got)
	}
}

func TestZeroValueDefaults(t *testing.T) {
	var b Backoff
	if d := b.Delay(0); d < 25*time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("zero value first delay %v, want within [25ms,50ms]", d)
	}
	if d := b.Delay(100); d > 5*time.Second {
		t.Fatalf("zero value cap: %v > 5s", d)
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	var slept []time.Duration
	b := Backoff{Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	calls, retries := 0, 0
	err := b.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 4 {
			return errors.New("redis down")
		}
		return nil
	}, func(int, error, time.Duration) { retries++ })
	if err != nil || calls != 4 || retries != 3 || len(slept) != 3 {
		t.Fatalf("err=%v calls=%d retries=%d slept=%d", err, calls, retries, len(slept))
	}
}

func TestDoStopsOnPermanent(t *testing.T) {
	b := Backoff{Sleep: func(context.Context, time.Duration) error { t.Fatal("must not sleep"); return nil }}
	base := errors.New("bad key")
	err := b.Do(context.Background(), func(context.Context) error { return MarkPermanent(base) }, nil)
	if !errors.Is(err, base) || !IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
}

func TestDoStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := Backoff{Initial: time.Hour, Max: time.Hour}
	calls := 0
	err := b.Do(ctx, func(context.Context) error {
		calls++
		cancel()
		return errors.New("down")
	}, nil)
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
}

func TestDoMaxElapsed(t *testing.T) {
	var total time.Duration
	b := Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, MaxElapsed: 35 * time.Millisecond,
		Rand:  func() float64 { return 0.999999 },
		Sleep: func(_ context.Context, d time.Duration) error { total += d; return nil }}
	err := b.Do(context.Background(), func(context.Context) error { return errors.New("x") }, nil)
	if err == nil || total > 35*time.Millisecond {
		t.Fatalf("err=%v total=%v", err, total)
	}
}
