package sink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// delay is the second delay of runSkippingDeleter's deleter.
const delay = 400 * time.Millisecond

// runSkippingDeleter runs a deleter on a fresh Redis that skips the second
// delete of changes older than delay + 2s; done has Run's result.
func runSkippingDeleter(t *testing.T) (*testenv.Redis, *redis.Client, *Deleter, *ackLog, chan error) {
	r := testenv.StartRedis(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: delay, SkipSecondAge: delay + 2*time.Second}, acks)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return r, r.Client(t), d, acks, done
}

// TestDeleterSkipsSecondDeleteOfOldChanges: with SkipSecondAge, a batch
// whose changes all committed longer ago than that is acknowledged right
// after its first delete (a backlog being caught up), while a batch with
// one recent change — a fresh commit, or a merged batch whose newest commit
// (LastCommit) is recent — still waits for and gets its second delete.
func TestDeleterSkipsSecondDeleteOfOldChanges(t *testing.T) {
	_, c, d, acks, done := runSkippingDeleter(t)
	ctx := context.Background()

	old := time.Now().Add(-time.Minute)
	cases := []struct {
		b    *event.Batch
		skip bool
	}{
		{&event.Batch{Seq: 1, Keys: []string{"old:1", "ключ:😀"}, CommitTime: old}, true},
		{&event.Batch{Seq: 2, Keys: []string{"new:2"}, CommitTime: time.Now()}, false},
		{&event.Batch{Seq: 3, Keys: []string{"merged:3"}, CommitTime: old, LastCommit: time.Now()}, false},
		{&event.Batch{Seq: 4, Keys: []string{"unknown:4"}}, false}, // no commit time
	}
	sent := map[uint64]time.Time{}
	for _, tc := range cases {
		setKeys(t, c, tc.b.Keys)
		sent[tc.b.Seq] = time.Now()
		// One at a time, so no two share a group.
		if err := d.Send(ctx, tc.b); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() bool { return c.Exists(ctx, tc.b.Keys...).Val() == 0 })
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		waited := acks.at[tc.b.Seq].Sub(sent[tc.b.Seq])
		if tc.skip && waited >= delay {
			t.Errorf("batch %d (all changes old) acknowledged after %v: its second delete was waited for", tc.b.Seq, waited)
		}
		if !tc.skip && waited < delay {
			t.Errorf("batch %d acknowledged after %v, before its second delete was due", tc.b.Seq, waited)
		}
	}
	if got := testutil.ToFloat64(d.m.SecondSkipped); got != 2 {
		t.Errorf("cachesync_second_deletes_skipped_total = %v, want 2 (the old batch's keys)", got)
	}
	if got := testutil.ToFloat64(d.m.Invalidated.WithLabelValues("second")); got != 3 {
		t.Errorf("second deletes of %v keys, want 3", got)
	}
}

// TestDeleterKeepsSecondDeleteAfterRedisOutage: a change that is old only
// because Redis was away still gets its second delete — the application's
// fills were held back by the same outage and may land right after the
// first delete.
func TestDeleterKeepsSecondDeleteAfterRedisOutage(t *testing.T) {
	r, c, d, _, done := runSkippingDeleter(t)
	ctx := context.Background()

	r.Stop(t)
	old := time.Now().Add(-time.Minute) // committed before the outage began
	if err := d.Send(ctx, &event.Batch{Seq: 1, Keys: []string{"outage:1"}, CommitTime: old}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return testutil.ToFloat64(d.m.RedisErrors.WithLabelValues("first")) > 0 })
	r.Start(t)
	// After the first delete went through (Redis restarted empty, so the
	// key's absence says nothing), a fill held back by the outage lands.
	waitFor(t, 10*time.Second, func() bool { return testutil.ToFloat64(d.m.Invalidated.WithLabelValues("first")) == 1 })
	c.Set(ctx, "outage:1", "a fill the outage held back", 0)
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, "outage:1").Val(); n != 0 {
		t.Error("the fill held back by the outage survived: the second delete was skipped")
	}
	if got := testutil.ToFloat64(d.m.SecondSkipped); got != 0 {
		t.Errorf("cachesync_second_deletes_skipped_total = %v, want 0", got)
	}
}
