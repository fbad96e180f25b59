// Package checkpoint decides when a binlog position is safe to save and
// saves it. A position is safe once every batch emitted before it has been
// acknowledged downstream; positions only ever come from transaction
// boundaries, so a checkpoint never lands mid-transaction. The stores
// (a file, or Redis with a leader lease) save it; a Blob keeps the tailer's
// own state beside it (open XA prepares, the schema history).
package checkpoint

import (
	"sync"

	"github.com/cachesync/cachesync/event"
)

// Tracker maps out-of-order acknowledgements of batches onto the in-order
// sequence of transaction boundaries. Memory is bounded by the batches in
// flight: boundaries with no new batch between them are coalesced.
type Tracker struct {
	mu      sync.Mutex
	next    uint64              // next sequence number to hand out
	low     uint64              // every seq below low is done
	done    map[uint64]struct{} // done seqs at or above low
	commits []pending           // boundaries waiting for their batches, oldest first
	safe    event.Position
	hasSafe bool
	changed chan struct{}
}

type pending struct {
	upTo uint64 // the boundary is safe once low >= upTo
	pos  event.Position
}

// NewTracker returns a tracker whose first safe position is start (may be zero).
func NewTracker(start event.Position) *Tracker {
	return &Tracker{
		next:    1,
		low:     1,
		done:    make(map[uint64]struct{}),
		safe:    start,
		hasSafe: !start.IsZero(),
		changed: make(chan struct{}, 1),
	}
}

// Next hands out the sequence number for a new batch.
func (t *Tracker) Next() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.next
	t.next++
	return s
}

// Done records that batch seq is completely finished downstream.
func (t *Tracker) Done(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq < t.low || seq >= t.next {
		return // duplicate or unknown ack: harmless, ignore
	}
	t.done[seq] = struct{}{}
	for {
		if _, ok := t.done[t.low]; !ok {
			break
		}
		delete(t.done, t.low)
		t.low++
	}
	t.release()
}

// Commit records a transaction boundary: pos becomes safe once every batch
// handed out so far is done.
func (t *Tracker) Commit(pos event.Position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.commits); n > 0 && t.commits[n-1].upTo == t.next {
		t.commits[n-1].pos = pos // no batch since the last boundary: coalesce
	} else {
		t.commits = append(t.commits, pending{upTo: t.next, pos: pos})
	}
	t.release()
}

// release moves the safe position past every boundary whose batches are done.
func (t *Tracker) release() {
	i := 0
	for i < len(t.commits) && t.commits[i].upTo <= t.low {
		t.safe = t.commits[i].pos
		t.hasSafe = true
		i++
	}
	if i == 0 {
		return
	}
	t.commits = append(t.commits[:0], t.commits[i:]...)
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Safe returns the furthest position whose work is all done.
func (t *Tracker) Safe() (event.Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.safe, t.hasSafe
}

// InFlight is the number of batches handed out and not yet done.
func (t *Tracker) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.next-t.low) - len(t.done)
}

// Changed is signalled (at most one pending signal) when Safe moves.
func (t *Tracker) Changed() <-chan struct{} { return t.changed }
