package retry

import (
	"context"
	"time"
)

// Every calls fn once a period until ctx ends or fn returns false; the
// first call is one period after the start. It is the one polling loop of
// the watchers, the lease renewal and the consumer's offset commits.
func Every(ctx context.Context, period time.Duration, fn func() (more bool)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}
