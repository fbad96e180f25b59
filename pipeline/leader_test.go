package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/retry"
)

// instance is one cachesync's tailer side on a shared Redis checkpoint:
// the real lease loop around the real stop order, with a stand-in binlog
// that commits a transaction every few milliseconds.
type instance struct {
	j       *journal
	lease   *checkpoint.Lease
	store   *recordingStore
	started chan event.Position // where each streaming term began
	reading atomic.Bool
	stop    context.CancelFunc
	done    chan error
}

func startInstance(t *testing.T, rdb *testenv.Redis, keys checkpoint.Keys, ttl time.Duration) *instance {
	t.Helper()
	client := rdb.Client(t)
	j := &journal{}
	in := &instance{j: j, lease: checkpoint.NewLease(client, keys, ttl), started: make(chan event.Position, 10), done: make(chan error, 1)}
	in.store = &recordingStore{j: j, inner: &checkpoint.RedisStore{RDB: client, Keys: keys, Lease: in.lease}}
	soft, stop := context.WithCancel(context.Background())
	in.stop = stop
	run := func(soft, hard context.Context) error {
		start, _, err := in.store.Load(soft)
		if err != nil {
			return err
		}
		if start.IsZero() {
			start = pos(0)
		}
		tracker := checkpoint.NewTracker(event.Position{})
		out := newHoldingOutput(j, tracker, true)
		r := &binlogReader{j: j, tracker: tracker, out: out, every: 5 * time.Millisecond, reading: make(chan struct{})}
		acks := &autoAck{holdingOutput: out}
		r.out = acks
		s := newStreamer(t, j, tracker, in.store, acks, func(ctx context.Context, from event.Position) error {
			in.reading.Store(true)
			in.started <- from
			defer in.reading.Store(false)
			return r.read(ctx, from)
		})
		return s.run(soft, hard, start)
	}
	backoff := retry.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	go func() { in.done <- lead(soft, context.Background(), in.lease, keys.Lease, backoff, zap.NewNop(), run) }()
	return in
}

// autoAck acknowledges every batch as soon as it is sent.
type autoAck struct{ *holdingOutput }

func (a *autoAck) Send(ctx context.Context, b *event.Batch) error {
	if err := a.holdingOutput.Send(ctx, b); err != nil {
		return err
	}
	a.release <- struct{}{}
	return nil
}

// A leader whose lease is lost (here: another instance holds it now) stops
// streaming at once and saves no checkpoint after that — its final save is
// refused — and stands by; a standby then takes over from the checkpoint
// the old leader saved last.
func TestLeaderLosesLeaseStandbyTakesOver(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	keys := checkpoint.KeysFor("cachesync:test")
	// Renewed every ttl/4: 250ms leaves a loaded -race run room to renew
	// before a standby may take a lease that was never lost.
	const ttl = time.Second
	a := startInstance(t, r, keys, ttl)
	defer a.stop()
	<-a.started
	b := startInstance(t, r, keys, ttl)
	defer b.stop()
	waitFor(t, "the leader's checkpoint", func() bool { return a.store.last().Pos > 103 })
	select {
	case <-b.started:
		t.Fatal("the standby streams while the leader holds the lease")
	default:
	}

	// Another instance takes the lease, as after a pause of the leader
	// longer than the lease.
	ctx := context.Background()
	if err := rdb.Set(ctx, keys.Lease, "999:someone-else", 3*ttl).Err(); err != nil {
		t.Fatal(err)
	}
	// What Redis holds now is the last checkpoint the old leader saved: a
	// save in flight when the lease changed hands either ran before (and is
	// in it) or is refused. (Counting the store's successful saves here
	// would race with a save that ran in Redis before the change and
	// returned after it.)
	savedThen, _, _ := a.store.inner.Load(ctx)
	waitFor(t, "the old leader to stop streaming", func() bool { return !a.reading.Load() })
	if a.j.index("reading stopped") < 0 {
		t.Fatalf("the old leader's reading did not stop; journal tail: %q", a.j.all())
	}
	a.stop() // only the standby is left to take over
	if err := <-a.done; err != nil {
		t.Errorf("the old leader's lease loop: %v", err)
	}
	if now, _, _ := a.store.inner.Load(ctx); now != savedThen {
		t.Errorf("the old leader saved after losing the lease: the checkpoint moved from %v to %v", savedThen, now)
	}

	var from event.Position
	select {
	case from = <-b.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not take over")
	}
	if from != savedThen {
		t.Errorf("the new leader streams from %v, want the last checkpoint %v", from, savedThen)
	}
	waitFor(t, "the new leader's checkpoint", func() bool { return b.store.last().Pos > savedThen.Pos })
	b.stop()
	if err := <-b.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("the new leader's graceful stop: %v", err)
	}
	if held, _ := rdb.Exists(ctx, keys.Lease).Result(); held != 0 {
		t.Error("a graceful stop left the lease held")
	}
}
