package backfill

import "sync"

// chunkAcks maps the deleter's batch acknowledgements (which arrive on the
// deleter's goroutines) onto chunks, and reports the chunks finished in
// order: chunk n is finished once every batch of chunks 1…n is done.
type chunkAcks struct {
	mu       sync.Mutex
	nextSeq  uint64
	chunkOf  map[uint64]uint64 // batch seq → chunk
	left     map[uint64]int    // chunk → batches not yet acknowledged
	added    uint64            // highest chunk added
	finished uint64
	changed  chan struct{}
}

func newChunkAcks() *chunkAcks {
	return &chunkAcks{nextSeq: 1, chunkOf: map[uint64]uint64{}, left: map[uint64]int{}, changed: make(chan struct{}, 1)}
}

// add registers chunk (the next one after the last added) with n batches
// and returns their sequence numbers. Register before sending, so no
// acknowledgement can arrive for an unknown batch.
func (a *chunkAcks) add(chunk uint64, n int) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = a.nextSeq
		a.chunkOf[a.nextSeq] = chunk
		a.nextSeq++
	}
	a.left[chunk] = n
	a.added = chunk
	a.advance()
	return seqs
}

// Done implements event.Acker.
func (a *chunkAcks) Done(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	chunk, ok := a.chunkOf[seq]
	if !ok {
		return // duplicate acknowledgement: harmless
	}
	delete(a.chunkOf, seq)
	a.left[chunk]--
	a.advance()
}

func (a *chunkAcks) advance() {
	moved := false
	for a.finished < a.added {
		n, ok := a.left[a.finished+1]
		if !ok || n > 0 {
			break
		}
		delete(a.left, a.finished+1)
		a.finished++
		moved = true
	}
	if moved {
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}
}

// Finished is the highest chunk n such that chunks 1…n are all done.
func (a *chunkAcks) Finished() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.finished
}

// Changed is signalled (at most one pending signal) when Finished moves.
func (a *chunkAcks) Changed() <-chan struct{} { return a.changed }
