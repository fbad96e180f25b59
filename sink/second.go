package sink

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/retry"
)

// ReplicaWaiter knows whether the read replicas have applied a batch's
// transaction (sink/replicas.Watcher).
type ReplicaWaiter interface {
	// Note records a batch whose first delete is done (for lag metrics).
	Note(b *event.Batch)
	// Pending names the replicas that have not applied b; nil when all have.
	Pending(b *event.Batch) []string
	// Changed is closed when the next poll of any replica answers.
	Changed() <-chan struct{}
}

// boundWarnEvery spaces the warnings of second deletes sent at the bound
// for one replica: a replica that is down would otherwise log one per group.
const boundWarnEvery = 10 * time.Second

// secondNotNeeded reports whether g's first delete, done at now, came so
// long after every one of its commits that it is later than the second
// delete would have been: a reader that read a row before its commit and
// fills after now paused longer than SkipSecondAge, which the second delete
// (at most SecondDelay after the commit's first delete) does not cover
// either. A change without a commit time always gets its second delete,
// and so does one that committed before Redis last failed a round trip:
// then the delete was late because Redis was away, and the application's
// fills, held back by the same outage, may land right after it.
func (d *Deleter) secondNotNeeded(g group, now time.Time) bool {
	if d.cfg.Replicas != nil || d.cfg.SkipSecondAge <= 0 {
		return false
	}
	failed := d.failedAt.Load()
	for _, b := range g.batches {
		if failed != 0 && !b.CommitTime.After(time.Unix(0, failed)) {
			return false
		}
		newest := b.CommitTime
		if b.LastCommit.After(newest) {
			newest = b.LastCommit
		}
		if newest.IsZero() || now.Sub(newest) < d.cfg.SkipSecondAge {
			return false
		}
	}
	return true
}

// secondDue reports whether g's second delete may go now: its delay has
// passed, or, waiting for replicas, every replica has applied it.
func (d *Deleter) secondDue(g group) bool {
	if !g.due.After(d.now()) {
		return true
	}
	return d.cfg.Replicas != nil && d.pendingOf(g) == nil
}

func (d *Deleter) pendingOf(g group) []string {
	for i := len(g.batches) - 1; i >= 0; i-- {
		if p := d.cfg.Replicas.Pending(g.batches[i]); p != nil {
			return p
		}
	}
	return nil
}

// waitSecond waits until g's second delete may go: second_delay after the
// first, or until every replica has applied it, at most replica_max_wait.
// At the bound it goes anyway (never dropped), counted per replica that had
// not applied it, with a warning that names them.
func (d *Deleter) waitSecond(ctx context.Context, g group) error {
	if d.cfg.Replicas == nil {
		if wait := g.due.Sub(d.now()); wait > 0 {
			return retry.SleepCtx(ctx, wait)
		}
		return nil
	}
	timer := time.NewTimer(max(g.due.Sub(d.now()), 0))
	defer timer.Stop()
	for {
		changed := d.cfg.Replicas.Changed()
		pending := d.pendingOf(g)
		if pending == nil {
			d.m.Replicas.SecondWait.Observe(d.now().Sub(g.first).Seconds())
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			d.atBound(g, pending)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *Deleter) atBound(g group, pending []string) {
	now := d.now()
	d.m.Replicas.SecondWait.Observe(now.Sub(g.first).Seconds())
	var warn []string
	for _, r := range pending {
		d.m.Replicas.AtBound.WithLabelValues(r).Add(float64(len(g.batches)))
		if now.Sub(d.boundWarned[r]) >= boundWarnEvery {
			d.boundWarned[r] = now
			warn = append(warn, r)
		}
	}
	if len(warn) == 0 {
		return
	}
	first := g.batches[0]
	d.log.Warn("second delete sent at delete.replica_max_wait before the replica applied the transaction: a reader filling from it may cache the old row until the key's TTL (repeated at most every 10s per replica)",
		zap.String("replica", strings.Join(warn, ",")), zap.Duration("replica_max_wait", d.cfg.ReplicaMaxWait),
		zap.String("table", first.DB+"."+first.Table), zap.Stringer("position", first.Pos), zap.String("gtid", first.GTID))
}

// mergedSecond accounts for a group whose second delete joins an earlier
// group's round trip, as waitSecond would have.
func (d *Deleter) mergedSecond(g group) {
	if d.cfg.Replicas == nil {
		return
	}
	if p := d.pendingOf(g); p != nil {
		d.atBound(g, p)
		return
	}
	d.m.Replicas.SecondWait.Observe(d.now().Sub(g.first).Seconds())
}
