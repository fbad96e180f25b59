package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/event"
)

// A graceful stop: reading stops first, then the output is closed and
// drains (acknowledging what it held), and only then is the final
// checkpoint saved — at the last transaction, every batch of which is
// acknowledged. No save is ever past a batch not yet acknowledged.
func TestStopOrderReadingThenDrainThenCheckpoint(t *testing.T) {
	j := &journal{}
	tracker := checkpoint.NewTracker(event.Position{})
	store := &recordingStore{j: j}
	out := newHoldingOutput(j, tracker, true)
	r := &binlogReader{j: j, tracker: tracker, out: out, txs: 3, reading: make(chan struct{})}
	s := newStreamer(t, j, tracker, store, out, r.read)

	soft, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.run(soft, context.Background(), pos(0)) }()
	<-r.reading
	out.release <- struct{}{} // the first transaction's batch is done
	waitFor(t, "the checkpoint at transaction 1", func() bool { return store.last() == pos(1) })
	if got := store.last(); got != pos(1) {
		t.Fatalf("saved %v with batches 2 and 3 unacknowledged; want %v", got, pos(1))
	}
	stop()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the tailer side did not stop; journal: %q", j.all())
	}
	if err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if got := store.last(); got != pos(3) {
		t.Errorf("final checkpoint %v, want %v (every batch was acknowledged)", got, pos(3))
	}
	order := []string{"reading stopped", "output closed", "ack 3", "saved 103"}
	for i := 1; i < len(order); i++ {
		a, b := j.index(order[i-1]), j.index(order[i])
		if a < 0 || b < 0 || a > b {
			t.Fatalf("want %q before %q; journal: %q", order[i-1], order[i], j.all())
		}
	}
	savedNeverPastAcks(t, j)
}

// savedNeverPastAcks checks the journal: a save of transaction n comes
// after the acknowledgement of its batch (batch n; transaction 0 has none).
func savedNeverPastAcks(t *testing.T, j *journal) {
	t.Helper()
	acked := 0
	for _, step := range j.all() {
		var n int
		if _, err := fmt.Sscanf(step, "ack %d", &n); err == nil {
			acked = max(acked, n)
		} else if _, err := fmt.Sscanf(step, "saved %d", &n); err == nil && n-100 > acked {
			t.Errorf("saved transaction %d when only batches up to %d were acknowledged; journal: %q", n-100, acked, j.all())
		}
	}
}

// A graceful stop that outlasts shutdown.timeout turns hard: the output,
// which never acknowledges its last batches, is stopped, the error says so,
// and the checkpoint stays at the last acknowledged transaction.
func TestStopPastShutdownTimeoutTurnsHard(t *testing.T) {
	j := &journal{}
	tracker := checkpoint.NewTracker(event.Position{})
	store := &recordingStore{j: j}
	out := newHoldingOutput(j, tracker, false)
	r := &binlogReader{j: j, tracker: tracker, out: out, txs: 3, reading: make(chan struct{})}
	s := newStreamer(t, j, tracker, store, out, r.read)
	d := Deps{Health: s.health, HardGrace: 5 * time.Second, Exit: func(code int) { t.Errorf("exit(%d): the hard stop did not end the run", code) }}

	soft, stop := context.WithCancel(context.Background())
	defer stop()
	hard, stopHard := context.WithCancelCause(context.Background())
	defer stopHard(nil)
	finished := make(chan struct{})
	go shutdownWatchdog(soft, finished, stopHard, 100*time.Millisecond, d)
	done := make(chan error, 1)
	go func() { done <- s.run(soft, hard, pos(0)) }()
	<-r.reading
	out.release <- struct{}{}
	waitFor(t, "the checkpoint at transaction 1", func() bool { return store.last() == pos(1) })
	stop()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the tailer side did not stop after shutdown.timeout; journal: %q", j.all())
	}
	close(finished)
	if !errors.Is(context.Cause(hard), errShutdownTimeout) {
		t.Errorf("hard ended by %v, want the shutdown timeout", context.Cause(hard))
	}
	if err == nil || !strings.Contains(err.Error(), "stopped before 2 batches were invalidated") {
		t.Errorf("error %v: want it to say 2 batches were not invalidated", err)
	}
	if got := store.last(); got != pos(1) {
		t.Errorf("checkpoint %v after a hard stop, want %v: the last acknowledged transaction", got, pos(1))
	}
	savedNeverPastAcks(t, j)
	if j.index("output stopped hard") < 0 {
		t.Errorf("the output was not stopped; journal: %q", j.all())
	}
}
