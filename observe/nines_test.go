package observe

import (
	"math"
	"testing"
	"time"
)

func TestNines(t *testing.T) {
	for _, c := range []struct {
		total, bad int64
		want       float64
	}{{100, 1, 2}, {1000, 1, 3}, {1000, 10, 2}, {1000, 0, 3}, {10, 10, 0}} {
		if got := Nines(c.total, c.bad); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Nines(%d, %d) = %v, want %v", c.total, c.bad, got, c.want)
		}
	}
	if !math.IsNaN(Nines(0, 0)) {
		t.Error("no checks: want NaN")
	}
}

// TestNinesSlidingHour: checks older than the hour leave the figure.
func TestNinesSlidingHour(t *testing.T) {
	n := newNines([]string{"1s"}, time.Hour)
	t0 := time.Unix(1_800_000_000, 0)
	n.add(0, t0, true)
	for i := 0; i < 99; i++ {
		n.add(0, t0.Add(30*time.Minute), false)
	}
	if got := n.value(0, t0.Add(59*time.Minute)); math.Abs(got-2) > 1e-9 {
		t.Errorf("within the hour: %v, want 2 (1 stale in 100)", got)
	}
	if total, bad := n.sums(0, t0.Add(61*time.Minute)); total != 99 || bad != 0 {
		t.Errorf("after the hour: %d checks %d stale, want 99 and 0", total, bad)
	}
	if total, _ := n.sums(0, t0.Add(2*time.Hour)); total != 0 {
		t.Errorf("two hours later: %d checks, want 0", total)
	}
}
