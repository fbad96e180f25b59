package canal

import (
	"testing"
	"time"

	"github.com/cachesync/cachesync/metrics"
)

// A backlog read between two samples still shows in the next sample: the
// peak since the last take, then the last lag when nothing was read.
func TestTakeLagPeak(t *testing.T) {
	tl := &Tailer{metrics: metrics.New(nil)}
	now := uint32(time.Now().Unix())
	tl.observeLag(now - 5) // an old transaction…
	tl.observeLag(now)     // …then caught up
	if p := tl.TakeLagPeak(); p < 4*time.Second || p > 7*time.Second {
		t.Fatalf("peak %v, want about 5s", p)
	}
	if l := tl.Lag(); l > 2*time.Second {
		t.Fatalf("last lag %v, want about 0", l)
	}
	if p := tl.TakeLagPeak(); p > 2*time.Second {
		t.Fatalf("peak after a take with nothing read: %v, want the last lag (about 0)", p)
	}
	tl.observeLag(0) // no commit time: ignored
	if p := tl.TakeLagPeak(); p > 2*time.Second {
		t.Fatalf("an event without a timestamp moved the lag: %v", p)
	}
}
