package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// A first delete that can never succeed (here: Redis gone and the backoff
// given up) ends Run with that error while other groups' first deletes
// are in flight or queued behind it: none is acknowledged, and Run does
// not hang waiting for them.
func TestFirstDeleteFailureEndsRunWithItsError(t *testing.T) {
	r := testenv.StartRedis(t)
	acks := &ackLog{}
	// One batch per round trip, so several are in flight; and a backoff
	// that gives up, so a first delete fails for good.
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: 50 * time.Millisecond, BatchKeys: 1}, acks)
	d.backoff.MaxElapsed = 200 * time.Millisecond
	r.Stop(t)
	ctx := context.Background()
	// Queued before Run starts, so the deleter is not idle and starts its
	// first deletes as trips, several at once.
	for i := range 10 {
		b := &event.Batch{Seq: uint64(i + 1), DB: "shop", Table: "items", Keys: []string{fmt.Sprintf("k:%d", i)}, CommitTime: time.Now()}
		if err := d.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "first delete") || !strings.Contains(err.Error(), "shop.items") {
			t.Errorf("Run ended with %v, want the first delete's error naming the table", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not end after a first delete failed for good")
	}
	if n := acks.count(); n != 0 {
		t.Errorf("%d batches acknowledged though no delete reached Redis", n)
	}
	d.Close()
}
