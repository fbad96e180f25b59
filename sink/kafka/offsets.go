package kafka

// The consumer's offset bookkeeping: which fetched messages are done, and
// committing each partition up to the last one done with everything before
// it.

import (
	"context"
	"time"

	"github.com/cachesync/cachesync/retry"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

type fetched struct {
	offset int64
	done   bool
	part   *partState
}

// partState is one partition's messages in fetch order. A new one replaces
// it when offsets go backwards (the partition was reassigned after a
// rebalance and is read again from the committed offset).
type partState struct {
	partition int
	queue     []*fetched // oldest first; popped while done
	lastFetch int64
	doneUpTo  int64 // highest offset with it and everything before it done; -1 none
	committed int64 // doneUpTo at the last successful commit
	lag       int64 // messages after the last fetched one, as that fetch saw the end
}

// Done is the deleter's acknowledgement of a batch (event.Acker): every
// message handed over in it is done.
func (c *Consumer) Done(seq uint64) {
	c.mu.Lock()
	fs := c.inflight[seq]
	delete(c.inflight, seq)
	for _, f := range fs {
		c.finish(f)
	}
	c.held -= len(fs)
	c.mu.Unlock()
	if len(fs) > 0 {
		c.slots.Release(int64(len(fs)))
		c.m.KafkaDone.Add(float64(len(fs)))
	}
}

// finish marks f done and advances its partition; c.mu is held.
func (c *Consumer) finish(f *fetched) {
	f.done = true
	p := f.part
	i := 0
	for i < len(p.queue) && p.queue[i].done {
		p.doneUpTo = p.queue[i].offset
		i++
	}
	if i > 0 {
		clear(p.queue[:i])
		p.queue = p.queue[i:]
	}
}

// track registers a fetched message in its partition's queue.
func (c *Consumer) track(msg kafkago.Message) *fetched {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[msg.Partition]
	if p == nil || msg.Offset <= p.lastFetch {
		if p != nil {
			c.m.KafkaRedelivered.Inc()
			c.log.Info("partition read again from its committed offset (rebalance); messages after it are delivered again",
				zap.Int("partition", msg.Partition), zap.Int64("offset", msg.Offset), zap.Int64("last_fetched", p.lastFetch))
		}
		if p == nil {
			c.log.Info("reading partition", zap.String("topic", msg.Topic), zap.Int("partition", msg.Partition), zap.Int64("offset", msg.Offset))
		}
		if old := c.parts[msg.Partition]; old != nil {
			c.lagTotal -= old.lag
		}
		p = &partState{partition: msg.Partition, doneUpTo: msg.Offset - 1, committed: msg.Offset - 1}
		c.parts[msg.Partition] = p
	}
	p.lastFetch = msg.Offset
	if msg.HighWaterMark > 0 { // the partition's end as this fetch saw it
		lag := msg.HighWaterMark - msg.Offset - 1
		c.lagTotal += lag - p.lag
		p.lag = lag
		c.m.KafkaConsumerLag.Set(float64(c.lagTotal))
	}
	f := &fetched{offset: msg.Offset, part: p}
	p.queue = append(p.queue, f)
	c.held++
	return f
}

// register gives the messages of one batch a sequence number for Done.
func (c *Consumer) register(fs []*fetched) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.inflight[c.seq] = fs
	return c.seq
}

// commitLoop commits every CommitInterval until ctx ends.
func (c *Consumer) commitLoop(ctx context.Context) {
	retry.Every(ctx, c.cfg.CommitInterval, func() bool {
		_ = c.Commit(ctx)
		return true
	})
}

// Commit commits, per partition, the offset after the last message that is
// done with everything before it. Failures are counted and left for the
// next commit.
func (c *Consumer) Commit(ctx context.Context) error {
	c.mu.Lock()
	var msgs []kafkago.Message
	var parts []*partState
	var upTo []int64
	for _, p := range c.parts {
		if p.doneUpTo > p.committed {
			msgs = append(msgs, kafkago.Message{Topic: c.cfg.Topic, Partition: p.partition, Offset: p.doneUpTo})
			parts = append(parts, p)
			upTo = append(upTo, p.doneUpTo)
		}
	}
	c.mu.Unlock()
	msgs, parts, upTo = c.notBehind(ctx, msgs, parts, upTo)
	if len(msgs) == 0 {
		return nil
	}
	if err := c.r.CommitMessages(ctx, msgs...); err != nil {
		c.m.KafkaCommitErrors.Inc()
		c.log.Warn("committing consumer offsets failed; retried at the next commit (a restart now re-delivers, never skips)", zap.Error(err))
		return err
	}
	c.mu.Lock()
	for i, p := range parts {
		p.committed = max(p.committed, upTo[i])
	}
	c.mu.Unlock()
	return nil
}

// notBehind drops the commits that would move a partition's offset back.
// Kafka takes a commit from any member of the current generation for any
// partition, and kafka-go's Reader does not say which partitions a
// rebalance took away: this consumer can finish messages of a partition
// now read by another member, which may have committed further already.
// Committing ours would make the group read those messages again. If the
// group's offsets cannot be read, every commit goes ahead (at worst that
// re-delivers; it never skips).
func (c *Consumer) notBehind(ctx context.Context, msgs []kafkago.Message, parts []*partState, upTo []int64) ([]kafkago.Message, []*partState, []int64) {
	if len(msgs) == 0 {
		return msgs, parts, upTo
	}
	ids := make([]int, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Partition
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.admin.OffsetFetch(fctx, &kafkago.OffsetFetchRequest{GroupID: c.cfg.Group, Topics: map[string][]int{c.cfg.Topic: ids}})
	if err != nil || res.Error != nil {
		return msgs, parts, upTo
	}
	theirs := map[int]int64{}
	for _, p := range res.Topics[c.cfg.Topic] {
		if p.Error == nil {
			theirs[p.Partition] = p.CommittedOffset // the next offset to read
		}
	}
	keep := 0
	for i := range msgs {
		if off, ok := theirs[msgs[i].Partition]; ok && off > upTo[i] {
			c.mu.Lock()
			parts[i].committed = max(parts[i].committed, upTo[i]) // nothing of ours left to commit there
			c.mu.Unlock()
			continue
		}
		msgs[keep], parts[keep], upTo[keep] = msgs[i], parts[i], upTo[i]
		keep++
	}
	return msgs[:keep], parts[:keep], upTo[:keep]
}
