package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A lag that rises past the limit, stays there, dips a little and recovers
// logs exactly two lines: the warning once, then the recovery once.
func TestLagWatchLogsStateChangesOnly(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	w := &lagWatch{limit: 10 * time.Second, log: zap.New(core)}
	for _, s := range []int{1, 11, 40, 8, 11, 5, 4, 1, 2} {
		w.observe(time.Duration(s) * time.Second)
	}
	all := logs.All()
	if len(all) != 2 || all[0].Level != zapcore.WarnLevel || all[1].Level != zapcore.InfoLevel {
		t.Fatalf("want one warning then one recovery line, got %v", all)
	}
	if got := all[0].ContextMap()["lag"]; got != 11*time.Second {
		t.Errorf("the warning names lag %v, want 11s", got)
	}
	if got := all[1].ContextMap()["lag"]; got != 4*time.Second {
		t.Errorf("the recovery names lag %v, want 4s (the first under half the limit)", got)
	}
}

func TestWatchLagOff(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	watchLag(context.Background(), func() time.Duration { return time.Hour }, 0, zap.New(core), time.Millisecond) // returns at once
	if logs.Len() != 0 {
		t.Fatalf("lag_warning 0 logged %d lines", logs.Len())
	}
}

// Work that arrives after an idle spell longer than stall_after is not a
// stall: it has waited since it arrived, not since the last work finished.
// Work that then waits past stall_after is one, named with its hint.
func TestStallAfterIdleIsNotAStall(t *testing.T) {
	h := NewHealth(zap.NewNop(), nil)
	p := newLastDone()
	p.last.Store(time.Now().Add(-time.Hour).UnixNano()) // idle for an hour
	stallTick(h, "invalidations", "Redis confirms no delete", 0, p, time.Second)
	stallTick(h, "invalidations", "Redis confirms no delete", 3, p, time.Second)
	if ok, text := h.Status(); !ok {
		t.Fatalf("work that just arrived after an idle hour is reported stalled: %q", text)
	}
	p.last.Store(time.Now().Add(-2 * time.Second).UnixNano())
	stallTick(h, "invalidations", "Redis confirms no delete", 3, p, time.Second)
	if ok, text := h.Status(); ok || !strings.Contains(text, "invalidations: 3 waiting and nothing finished for 2s: Redis confirms no delete") {
		t.Fatalf("work waiting past stall_after: ready %v, %q", ok, text)
	}
}
