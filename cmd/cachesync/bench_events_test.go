package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyEvents records when Redis first announced an event (keyspace
// notifications, e.g. "del" or "set") for each key with prefix: the end of
// a latency the steady and write-through benchmarks measure.
type keyEvents struct {
	mu sync.Mutex
	at map[string]time.Time
}

// watchKeyEvents subscribes to event on db 0 and returns once the
// subscription is live; n sizes the buffers (every notification of a run is
// kept, so a slow reader here never makes go-redis drop one).
func watchKeyEvents(b *testing.B, rdb *redis.Client, event, prefix string, n int) *keyEvents {
	ctx, cancel := context.WithCancel(context.Background())
	sub := rdb.Subscribe(ctx, "__keyevent@0__:"+event)
	b.Cleanup(func() { sub.Close(); cancel() })
	if _, err := sub.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	ke := &keyEvents{at: make(map[string]time.Time, n)}
	go func() {
		for m := range sub.Channel(redis.WithChannelSize(2*n + 100)) {
			if !strings.HasPrefix(m.Payload, prefix) {
				continue
			}
			now := time.Now()
			ke.mu.Lock()
			if _, seen := ke.at[m.Payload]; !seen {
				ke.at[m.Payload] = now
			}
			ke.mu.Unlock()
		}
	}()
	return ke
}

// count is how many keys have had the event.
func (ke *keyEvents) count() int {
	ke.mu.Lock()
	defer ke.mu.Unlock()
	return len(ke.at)
}

// when is the first event of key.
func (ke *keyEvents) when(key string) (time.Time, bool) {
	ke.mu.Lock()
	defer ke.mu.Unlock()
	t, ok := ke.at[key]
	return t, ok
}
