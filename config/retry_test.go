package config

import (
	"testing"
	"time"
)

// The retry section's one conversion to a retry policy, for every caller.
func TestRetryBackoff(t *testing.T) {
	r := Default().Retry
	r.Max = Duration(7 * time.Second)
	b := r.Backoff()
	if b.Initial != 50*time.Millisecond || b.Max != 7*time.Second || b.MaxElapsed != 0 {
		t.Fatalf("Backoff() = %+v, want initial 50ms (the default), max 7s, no elapsed bound", b)
	}
}
