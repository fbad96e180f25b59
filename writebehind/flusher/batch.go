package flusher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

// item is one stream entry of a batch.
type item struct {
	id      string
	fields  map[string]any
	entry   writebehind.Entry
	poison  string // why it can never be applied; "" when it can
	deleted bool   // the entry was XDELed: nothing to apply, only acknowledge
}

// txResult is what one committed transaction did.
type txResult struct {
	applied, skipped, dead int
	upserts, deletes       int
	deadKeys               []string // owned keys of the dead entries, deleted once already
}

// processBatch applies msgs in one MySQL transaction (retried until it
// commits or ctx ends), then acknowledges them.
func (f *Flusher) processBatch(ctx context.Context, msgs []redis.XMessage) error {
	began := time.Now()
	var res txResult
	callHook(f.hooks.beforeTransact)
	msgs, err := f.adoptStrays(ctx, msgs)
	if err != nil {
		return err
	}
	items := toItems(msgs)
	err = f.retry(ctx, "mysql", "applying a batch to MySQL", func(ctx context.Context) error {
		var err error
		res, err = f.transact(ctx, items)
		if err != nil {
			f.db.reset() // a connection in an unknown state is not reused; the server rolls back
		}
		return err
	})
	if f.hooks.afterTransact != nil {
		f.hooks.afterTransact(err)
	}
	if err != nil {
		return err
	}
	f.m.flushTime.Observe(time.Since(began).Seconds())
	f.count(res)
	f.deleteLater(res.deadKeys)
	// Acknowledge even when ctx ended meanwhile: the transaction committed.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return f.retry(actx, "redis", "acknowledging flushed entries", func(ctx context.Context) error { return f.ack(ctx, msgs) })
}

func (f *Flusher) count(res txResult) {
	f.m.entries.Add(float64(res.applied))
	f.m.skipped.Add(float64(res.skipped))
	f.m.dead.Add(float64(res.dead))
	f.m.upserts.Add(float64(res.upserts))
	f.m.deletes.Add(float64(res.deletes))
	if res.applied+res.dead > 0 {
		f.m.batches.Inc()
	}
	if res.skipped > 0 {
		f.log.Info("re-delivered entries were already applied: acknowledged without applying them again", zap.Int("entries", res.skipped))
	}
}

// ack removes the entries from the group's pending list and from the stream.
func (f *Flusher) ack(ctx context.Context, msgs []redis.XMessage) error {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	pipe := f.rdb.Pipeline()
	pipe.XAck(ctx, f.cfg.stream(), f.cfg.group(), ids...)
	pipe.XDel(ctx, f.cfg.stream(), ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("XACK of %d entries (%s..%s) on stream %s: %w", len(ids), ids[0], ids[len(ids)-1], f.cfg.stream(), err)
	}
	return nil
}

// transact is one attempt at the batch's transaction: the offsets row
// first, then the rows; poison entries are dead-lettered before COMMIT, so a
// crash cannot acknowledge one without its dead letter.
func (f *Flusher) transact(ctx context.Context, items []*item) (txResult, error) {
	c, err := f.db.get(ctx)
	if err != nil {
		return txResult{}, err
	}
	if err := c.Begin(); err != nil {
		return txResult{}, fmt.Errorf("BEGIN: %w", err)
	}
	stored, token, err := f.db.offsets(c, f.cfg.stream())
	if err != nil {
		return txResult{}, err
	}
	if token > f.token {
		// A newer flusher took the stream over while this one was paused:
		// it may have applied later entries, or be about to apply earlier
		// ones, so nothing of this batch may be written or acknowledged.
		return txResult{}, fenced(c, f.cfg.stream(), f.token, token)
	}
	fresh := make([]*item, 0, len(items))
	for _, it := range items {
		if writebehind.CompareIDs(it.id, stored) > 0 {
			fresh = append(fresh, it)
		}
	}
	res := txResult{skipped: len(items) - len(fresh)}
	if len(fresh) == 0 {
		return res, rollback(c)
	}
	last := items[len(items)-1].id
	if err := f.applyFresh(ctx, c, fresh, last, &res); err != nil {
		return txResult{}, err
	}
	if err := f.hook(f.hooks.beforeCommit, len(fresh)); err != nil {
		return txResult{}, err
	}
	if err := c.Commit(); err != nil {
		return txResult{}, fmt.Errorf("COMMIT of entries up to %s of stream %s: %w", last, f.cfg.stream(), err)
	}
	return res, f.hook(f.hooks.afterCommit, len(fresh))
}

func (f *Flusher) applyFresh(ctx context.Context, c *client.Conn, fresh []*item, last string, res *txResult) error {
	ops, err := f.db.coalesce(c, fresh)
	if err != nil {
		return err
	}
	if err := f.db.saveID(c, f.cfg.stream(), last, f.token); err != nil {
		return err
	}
	if res.upserts, res.deletes, err = f.db.exec(c, ops); err != nil {
		return err
	}
	var dead []*item
	for _, it := range fresh {
		switch {
		case it.poison != "":
			dead = append(dead, it)
		case !it.deleted:
			res.applied++
		}
	}
	res.dead = len(dead)
	res.deadKeys = f.keysOf(dead)
	return f.deadLetter(ctx, dead, res.deadKeys)
}

// hook runs a test hook; its error is a simulated crash, never retried.
func (f *Flusher) hook(h func(int) error, n int) error {
	if h == nil {
		return nil
	}
	if err := h(n); err != nil {
		return retry.MarkPermanent(fmt.Errorf("%w: %w", errCrash, err))
	}
	return nil
}

// deadLetter copies poison entries, with their reason, to the dead-letter
// stream, and deletes their owned keys (which hold the refused value).
func (f *Flusher) deadLetter(ctx context.Context, dead []*item, keys []string) error {
	if len(dead) == 0 {
		return nil
	}
	pipe := f.rdb.Pipeline()
	for _, it := range dead {
		args := make([]any, 0, 2*len(it.fields)+6)
		args = append(args, "reason", it.poison, "id", it.id, "stream", f.cfg.stream())
		for k, v := range it.fields {
			args = append(args, "entry."+k, v)
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: f.cfg.deadLetter(), Values: args})
		f.log.Error("poison write-behind entry moved to the dead-letter stream and its owned keys deleted; the rest of the batch is applied",
			zap.String("entry_id", it.id), zap.String("dead_letter_stream", f.cfg.deadLetter()), zap.String("reason", it.poison))
	}
	queueDeletes(ctx, pipe, keys)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("writing %d poison entries to dead-letter stream %s and deleting their owned keys %q: %w", len(dead), f.cfg.deadLetter(), keys, err)
	}
	return nil
}

func rollback(c *client.Conn) error {
	if err := c.Rollback(); err != nil {
		return fmt.Errorf("ROLLBACK: %w", err)
	}
	return nil
}

// toItems decodes the entries; a malformed one becomes poison.
func toItems(msgs []redis.XMessage) []*item {
	items := make([]*item, len(msgs))
	for i, m := range msgs {
		it := &item{id: m.ID, fields: m.Values}
		e, err := writebehind.ParseEntry(m.ID, m.Values)
		var pe *writebehind.PoisonError
		switch {
		case len(m.Values) == 0:
			it.deleted = true
		case errors.As(err, &pe):
			it.poison = pe.Reason
		default:
			it.entry = e
		}
		items[i] = it
	}
	return items
}
