package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/retry"
)

// Small stand-ins for the stages around the tailer side, for tests whose
// point is the order things happen in. Every step they take goes to one
// shared journal, so a test can say what came before what.

type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.steps = append(j.steps, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.steps...)
}

// index is where step first is in the journal, -1 if absent.
func (j *journal) index(step string) int {
	for i, s := range j.all() {
		if s == step {
			return i
		}
	}
	return -1
}

// pos is the position of transaction i of the fake binlog.
func pos(i int) event.Position { return event.Position{File: "bin.000001", Pos: uint32(100 + i)} }

// holdingOutput takes batches and acknowledges each only when the test
// releases it (release) or, if drainOnClose, when it is closed. It records
// its steps in the journal.
type holdingOutput struct {
	j            *journal
	acker        event.Acker
	drainOnClose bool

	mu      sync.Mutex
	held    []uint64
	release chan struct{} // one token: acknowledge the oldest held batch
	closed  chan struct{}
	once    sync.Once
}

func newHoldingOutput(j *journal, acker event.Acker, drainOnClose bool) *holdingOutput {
	return &holdingOutput{j: j, acker: acker, drainOnClose: drainOnClose, release: make(chan struct{}, 100), closed: make(chan struct{})}
}

func (o *holdingOutput) Send(_ context.Context, b *event.Batch) error {
	o.mu.Lock()
	o.held = append(o.held, b.Seq)
	o.mu.Unlock()
	return nil
}

func (o *holdingOutput) Close() { o.once.Do(func() { o.j.add("output closed"); close(o.closed) }) }

func (o *holdingOutput) ackOldest() {
	o.mu.Lock()
	seq := o.held[0]
	o.held = o.held[1:]
	o.mu.Unlock()
	o.j.add("ack %d", seq)
	o.acker.Done(seq)
}

func (o *holdingOutput) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.held)
}

func (o *holdingOutput) Run(ctx context.Context) error {
	for {
		select {
		case <-o.release:
			o.ackOldest()
		case <-o.closed:
			if !o.drainOnClose {
				<-ctx.Done() // a broker that never answers: only a hard stop ends this
				o.j.add("output stopped hard")
				return ctx.Err()
			}
			for o.pending() > 0 {
				time.Sleep(5 * time.Millisecond) // draining takes a while
				o.ackOldest()
			}
			o.j.add("output drained")
			return nil
		case <-ctx.Done():
			o.j.add("output stopped hard")
			return ctx.Err()
		}
	}
}

// recordingStore keeps the saves in the journal (and, when inner is set,
// passes them on).
type recordingStore struct {
	j     *journal
	inner checkpoint.Store

	mu    sync.Mutex
	saved []event.Position
}

func (s *recordingStore) Load(ctx context.Context) (event.Position, bool, error) {
	if s.inner != nil {
		return s.inner.Load(ctx)
	}
	return event.Position{}, false, nil
}

func (s *recordingStore) Save(ctx context.Context, p event.Position) error {
	if s.inner != nil {
		if err := s.inner.Save(ctx, p); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.saved = append(s.saved, p)
	s.mu.Unlock()
	s.j.add("saved %d", p.Pos)
	return nil
}

func (s *recordingStore) last() event.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saved) == 0 {
		return event.Position{}
	}
	return s.saved[len(s.saved)-1]
}

// binlogReader stands in for the tailer: it commits from, then sends one
// batch per transaction and commits the transaction's end, and keeps
// reading until its ctx ends. txs transactions are written at once; with
// every > 0 more follow at that pace.
type binlogReader struct {
	j       *journal
	tracker *checkpoint.Tracker
	out     event.Sink
	txs     int
	every   time.Duration
	reading chan struct{} // closed once the first txs are sent
	once    sync.Once
}

func (r *binlogReader) read(ctx context.Context, from event.Position) error {
	r.j.add("reading from %d", from.Pos)
	r.tracker.Commit(from)
	tx := int(from.Pos) - 100
	send := func() error {
		tx++
		if err := r.out.Send(ctx, &event.Batch{Seq: r.tracker.Next(), Keys: []string{fmt.Sprint("k", tx)}}); err != nil {
			return err
		}
		r.tracker.Commit(event.Position{File: from.File, Pos: uint32(100 + tx)})
		return nil
	}
	for i := 0; i < r.txs; i++ {
		if err := send(); err != nil {
			return err
		}
	}
	r.once.Do(func() { close(r.reading) })
	for {
		var tick <-chan time.Time
		if r.every > 0 {
			tick = time.After(r.every)
		}
		select {
		case <-ctx.Done():
			r.j.add("reading stopped")
			return nil // as canal.Tailer.Run does when its ctx ends
		case <-tick:
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// newStreamer joins a reader, an output and a saver on store the way the
// tailer side does.
func newStreamer(t *testing.T, j *journal, tracker *checkpoint.Tracker, store checkpoint.Store, out event.Output,
	read func(context.Context, event.Position) error) *streamer {
	t.Helper()
	log := zap.NewNop()
	backoff := retry.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	return &streamer{read: read, out: out, tracker: tracker, log: log, health: NewHealth(log, nil), finalSave: 5 * time.Second,
		saver: &checkpoint.Saver{Tracker: tracker, Store: store, Backoff: backoff, Log: log}}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
