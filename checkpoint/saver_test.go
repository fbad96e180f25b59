package checkpoint

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/retry"
)

type memStore struct {
	mu    sync.Mutex
	saves []event.Position
	fail  int // fail this many saves first
}

func (m *memStore) Load(context.Context) (event.Position, bool, error) {
	return event.Position{}, false, nil
}

func (m *memStore) Save(_ context.Context, p event.Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return errors.New("disk full")
	}
	m.saves = append(m.saves, p)
	return nil
}

func (m *memStore) last() (event.Position, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.saves) == 0 {
		return event.Position{}, 0
	}
	return m.saves[len(m.saves)-1], len(m.saves)
}

func TestSaverSavesOnlyReleasedPositions(t *testing.T) {
	tr := NewTracker(event.Position{})
	st := &memStore{fail: 2}
	s := &Saver{Tracker: tr, Store: st, Log: zaptest.NewLogger(t),
		Backoff: retry.Backoff{Sleep: func(context.Context, time.Duration) error { return nil }}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	seq := tr.Next()
	tr.Commit(pos(10))
	tr.Commit(pos(20))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, n := st.last(); n != 0 {
		t.Fatal("saved a position whose batch is not done")
	}
	tr.Done(seq)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, _ := st.last(); p == pos(20) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("released position never saved (after two failed saves)")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Saved() != pos(20) {
		t.Fatalf("Saved() = %v", s.Saved())
	}
	_, n := st.last()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n2 := st.last(); n2 != n {
		t.Fatal("Flush rewrote an unchanged position")
	}
}
