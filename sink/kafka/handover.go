package kafka

// Handing fetched messages over to the deleter: decoded into one batch per
// group, and the undecodable ones written to the DLQ topic.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// handle decodes a group of messages into one batch for the deleter (one
// pipelined round trip for all their keys) and dead-letters the ones that
// do not decode.
func (c *Consumer) handle(ctx context.Context, group []kafkago.Message, out event.Sink) error {
	var b *event.Batch
	var fs []*fetched
	for _, msg := range group {
		c.m.KafkaConsumed.Inc()
		f := c.track(msg)
		dm, derr := kafkamsg.Decode(msg.Value)
		var newer *kafkamsg.NewerVersionError
		if errors.As(derr, &newer) {
			// Not poison: a consumer of a later release reads it. Hand over
			// what came before it, then stop: its offset is never done, so
			// no commit passes it, and the group gives the partition to a
			// member that can read it (or to this one once upgraded).
			c.m.KafkaNewerVersion.Inc()
			err := fmt.Errorf("topic %s partition %d offset %d: %w (nothing at or after this offset was committed)", msg.Topic, msg.Partition, msg.Offset, derr)
			return errors.Join(err, c.handOver(ctx, out, b, fs, group[0]))
		}
		if derr != nil {
			if err := c.deadLetter(ctx, msg, derr); err != nil {
				return err // ctx ended: not done, so not committed
			}
			c.Done(c.register([]*fetched{f}))
			continue
		}
		if b == nil {
			b = &event.Batch{DB: dm.DB, Table: dm.Table, Op: dm.Op, Pos: dm.Pos, CommitTime: dm.CommitTime, LastCommit: dm.CommitTime,
				Keys: make([]string, 0, len(group)*len(dm.Keys)), GTID: dm.TrxGTID}
		} else {
			if dm.CommitTime.Before(b.CommitTime) {
				b.CommitTime = dm.CommitTime // the latency metric counts from the oldest commit
			}
			if dm.CommitTime.After(b.LastCommit) {
				b.LastCommit = dm.CommitTime // whether a second delete is needed, from the newest
			}
			// The replicas must have applied every transaction merged here.
			b.GTID = event.MergeTrxGTIDs(b.GTID, dm.TrxGTID)
			if dm.Pos.Compare(b.Pos) > 0 {
				b.Pos = dm.Pos
			}
		}
		if len(dm.Sets) == 0 {
			for i, k := range dm.Keys {
				b.AddKey(k, i < len(dm.Guarded) && dm.Guarded[i])
			}
		} else {
			// A set key is in keys for consumers that do not read sets: written, not deleted.
			set := map[string]bool{}
			for _, s := range dm.Sets {
				set[s.Key] = true
			}
			for i, k := range dm.Keys {
				if !set[k] {
					b.AddKey(k, i < len(dm.Guarded) && dm.Guarded[i])
				}
			}
			b.Sets = append(b.Sets, dm.Sets...)
		}
		b.Rows++
		fs = append(fs, f)
	}
	return c.handOver(ctx, out, b, fs, group[0])
}

// handOver sends the batch of the messages fs (nil: none) to the deleter.
func (c *Consumer) handOver(ctx context.Context, out event.Sink, b *event.Batch, fs []*fetched, first kafkago.Message) error {
	if b == nil {
		return nil
	}
	b.Seq = c.register(fs)
	if err := out.Send(ctx, b); err != nil {
		return fmt.Errorf("hand %d messages from %s.%s at %s on (topic %s partition %d offset %d) to the deleter: %w",
			len(fs), b.DB, b.Table, b.Pos, first.Topic, first.Partition, first.Offset, err)
	}
	return nil
}

// deadLetter writes a poison message to the DLQ topic with why and where it
// came from, retrying until the broker takes it: a poison message is never
// dropped, and its offset counts as done only once it is in the DLQ.
func (c *Consumer) deadLetter(ctx context.Context, msg kafkago.Message, why error) error {
	reason := "decode"
	var de *kafkamsg.DecodeError
	if errors.As(why, &de) && de.Field == "v" {
		reason = "version"
	}
	headers := append(append([]kafkago.Header(nil), msg.Headers...),
		kafkago.Header{Key: "cachesync.error", Value: []byte(why.Error())},
		kafkago.Header{Key: "cachesync.origin.topic", Value: []byte(msg.Topic)},
		kafkago.Header{Key: "cachesync.origin.partition", Value: []byte(strconv.Itoa(msg.Partition))},
		kafkago.Header{Key: "cachesync.origin.offset", Value: []byte(strconv.FormatInt(msg.Offset, 10))},
	)
	dm := kafkago.Message{Key: msg.Key, Value: msg.Value, Headers: headers}
	c.log.Error("undecodable message sent to the DLQ topic", zap.String("topic", msg.Topic), zap.Int("partition", msg.Partition),
		zap.Int64("offset", msg.Offset), zap.String("dlq_topic", c.cfg.DLQTopic), zap.Error(why))
	for attempt := 0; ; attempt++ {
		err := c.dlq.WriteMessages(ctx, dm)
		if err == nil {
			c.m.KafkaDeadLettered.WithLabelValues(reason).Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("cannot write to the DLQ topic; retrying, the partition waits", zap.String("dlq_topic", c.cfg.DLQTopic), zap.Error(err))
		if err := retry.SleepCtx(ctx, c.backoff.Delay(attempt)); err != nil {
			return err
		}
	}
}
