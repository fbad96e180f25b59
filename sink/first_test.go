package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// A first delete that can never succeed (here: Redis gone and the backoff
// given up) ends Run with that error while other groups' first deletes
// are in flight or queued behind it: none is acknowledged, and Run does
// not hang waiting for them.
func TestFirstDeleteFailureEndsRunWithItsError(t *testing.T) {
	r := testenv.StartRedis(t)
	rc := config.Default().Redis
	rc.Addrs = []string{r.Addr}
	rc.DialTimeout, rc.ReadTimeout = config.Duration(100*time.Millisecond), config.Duration(100*time.Millisecond)
	rdb := newRedis(t, rc)
	t.Cleanup(func() { rdb.Close() })
	acks := &ackLog{}
	cfg := fromFile(DeleterConfig{SecondDelay: 50 * time.Millisecond})
	cfg.BatchKeys = 1 // one batch per round trip: several trips in flight
	d := NewDeleter(rdb, cfg, acks, retry.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, MaxElapsed: 200 * time.Millisecond},
		zaptest.NewLogger(t), metrics.New(nil))
	r.Stop(t)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	sendCtx, stopSending := context.WithCancel(ctx)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range 10 {
			b := &event.Batch{Seq: uint64(i + 1), DB: "shop", Table: "items", Keys: []string{fmt.Sprintf("k:%d", i)}, CommitTime: time.Now()}
			if d.Send(sendCtx, b) != nil {
				return
			}
		}
	}()
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
	stopSending() // a Send may wait for room that nothing frees any more
	<-sent
	d.Close()
}
