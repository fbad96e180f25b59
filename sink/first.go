package sink

import (
	"context"

	"github.com/cachesync/cachesync/event"
)

// The first deletes of several groups may be in flight at once
// (DeleterConfig.FirstInFlight). With one, Redis sat idle while the deleter
// encoded the next round trip and read the last one's replies, and a round
// trip carried only what had queued during the last. Several overlap them;
// the order of round trips on different connections does not matter:
// deletes are idempotent, write-through writes carry versions, and a
// group's acknowledgement and second delete still follow its own first
// delete, in group order.

// firstTrip is a group whose first delete is running; done says how it ended.
type firstTrip struct {
	g    group
	done chan error
}

// runFirst forms groups from what is queued, up to one round trip's worth,
// and starts their first deletes, FirstInFlight at a time; finishFirst
// takes them in order as they end.
func (d *Deleter) runFirst(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// finishFirst holds the oldest trip while it waits for it; the channel
	// holds the others.
	trips := make(chan firstTrip, d.cfg.firstInFlight()-1)
	finished := make(chan error, 1)
	go func() { finished <- d.finishFirst(ctx, cancel, trips) }()
	err := d.startFirst(ctx, trips)
	close(trips)
	if ferr := <-finished; ferr != nil {
		return ferr // the cause; startFirst only saw ctx end
	}
	return err
}

// startFirst gathers groups and starts their first deletes until d.in is
// closed and empty, or ctx ends.
func (d *Deleter) startFirst(ctx context.Context, trips chan<- firstTrip) error {
	for {
		var b *event.Batch
		var ok bool
		select {
		case b, ok = <-d.in:
			if !ok {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		g := group{batches: []*event.Batch{b}}
		keys := len(b.Keys) + len(b.Sets)
	gather: // take what is already queued, up to one round trip's worth
		for keys < d.cfg.BatchKeys {
			select {
			case nb, ok := <-d.in:
				if !ok {
					break gather
				}
				g.batches = append(g.batches, nb)
				keys += len(nb.Keys) + len(nb.Sets)
			default:
				break gather
			}
		}
		if d.firstOut.Load() == 0 && len(d.in) == 0 {
			// Idle: nothing in flight, nothing waiting. Deleting here saves
			// the hand-overs to a trip's goroutine and to finishFirst (at
			// 500 updates/s from one connection, commit to delete p50 0.204
			// ms instead of 0.218), and what queues meanwhile goes out in
			// the next, larger trip.
			if err := d.deleteGroup(ctx, "first", g); err != nil {
				return err
			}
			if err := d.afterFirst(ctx, g); err != nil {
				return err
			}
			continue
		}
		d.firstOut.Add(1)
		t := firstTrip{g: g, done: make(chan error, 1)}
		// With FirstInFlight trips running, this waits until finishFirst
		// takes the next, that is until the oldest has ended.
		select {
		case trips <- t:
		case <-ctx.Done():
			return ctx.Err()
		}
		go func() { t.done <- d.deleteGroup(ctx, "first", t.g) }()
	}
}

// finishFirst takes the groups in the order they were formed, waits for
// each one's first delete, and acknowledges it or hands it to the second
// delete. At the first error it cancels the rest and returns that error once
// every trip started has ended.
func (d *Deleter) finishFirst(ctx context.Context, cancel context.CancelFunc, trips <-chan firstTrip) error {
	var err error
	for t := range trips {
		e := <-t.done
		if err != nil {
			continue // ends with ctx
		}
		if e == nil {
			e = d.afterFirst(ctx, t.g)
		}
		d.firstOut.Add(-1)
		if e != nil {
			err = e
			cancel()
		}
	}
	return err
}

// afterFirst is what follows a group's first delete: the commit-to-delete
// metric, then the acknowledgement when no second delete is needed, or the
// hand-over to runSecond.
func (d *Deleter) afterFirst(ctx context.Context, g group) error {
	now := d.now()
	for _, b := range g.batches {
		d.m.CommitToDelete.Observe(now.Sub(b.CommitTime).Seconds())
	}
	if d.cfg.Replicas == nil && d.cfg.SecondDelay <= 0 {
		d.ack(g)
		return nil
	}
	if d.secondNotNeeded(g, now) {
		d.m.SecondSkipped.Add(float64(countKeys(g)))
		d.ack(g)
		return nil
	}
	g.due, g.first = now.Add(d.cfg.SecondDelay), now
	if d.cfg.Replicas != nil {
		g.due = now.Add(d.cfg.ReplicaMaxWait)
		for _, b := range g.batches {
			d.cfg.Replicas.Note(b)
		}
	}
	select {
	case d.second <- g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
