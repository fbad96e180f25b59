package kafka

import (
	"context"
	"errors"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// Bypass takes a change Kafka can never carry, so that it does not stall the
// stream: the Redis deleter, which deletes its keys (first and second
// delete) and then acknowledges the batch's Seq to the acker it was built
// with, which must be the publisher's BypassDone.
//
// Why delete rather than dead-letter: the invalidation is then not lost,
// and the checkpoint passes the change only once its keys are gone, as on
// the direct transport; a dead letter nobody replays would leave the cache
// stale.
type Bypass interface {
	Send(ctx context.Context, b *event.Batch) error
}

// SetBypass makes p delete the changes Kafka refuses for good through b
// instead of retrying them forever: a key larger than a message (the split
// refuses it) and a message the broker refuses as too large
// (MESSAGE_TOO_LARGE refuses a whole produce request: its largest message
// goes to the bypass, the others are written again). Without it such a change is an error (Send) or
// retried forever (broker). Call it before Run and Send.
func (p *Publisher) SetBypass(b Bypass) { p.bypass = b }

// BypassDone is the acker of the Bypass's deleter.
func (p *Publisher) BypassDone(seq uint64) {
	p.mu.Lock()
	done := p.bypassed[seq]
	delete(p.bypassed, seq)
	p.mu.Unlock()
	if done != nil {
		done()
	}
}

// bypassSend hands b's keys to the bypass under a sequence number of the
// publisher's own; done runs when they are deleted.
func (p *Publisher) bypassSend(ctx context.Context, b event.Batch, done func()) error {
	p.mu.Lock()
	p.bypassSeq++
	b.Seq = p.bypassSeq
	if p.bypassed == nil {
		p.bypassed = map[uint64]func(){}
	}
	p.bypassed[b.Seq] = done
	p.mu.Unlock()
	if err := p.bypass.Send(ctx, &b); err != nil {
		p.mu.Lock()
		delete(p.bypassed, b.Seq)
		p.mu.Unlock()
		return err
	}
	return nil
}

// bypassBatch deletes every key of b straight from Redis: one of its keys
// cannot fit in a message alone.
func (p *Publisher) bypassBatch(ctx context.Context, b *event.Batch, tooLarge *kafkamsg.KeyTooLargeError) error {
	p.m.KafkaBypassed.WithLabelValues("split").Inc()
	p.log.Error("a key is larger than a kafka message: this change's keys are deleted straight from redis instead (first and second delete; the checkpoint waits for them); a key that large is probably a bug in a rule",
		zap.String("table", b.DB+"."+b.Table), zap.Stringer("position", b.Pos), zap.String("key_prefix", keyPrefix(tooLarge.Key)),
		zap.Int("key_bytes", len(tooLarge.Key)), zap.Int("max_message_bytes", p.cfg.MaxBytes), zap.Int("keys", len(b.Keys)), zap.String("reason", "split"))
	seq := b.Seq
	return p.bypassSend(ctx, *b, func() { p.acker.Done(seq) })
}

// bypassRefused deletes the keys of messages the broker refused as too
// large, each acknowledged like a published message once deleted.
func (p *Publisher) bypassRefused(ctx context.Context, msgs []kafkago.Message, why error) error {
	for _, msg := range msgs {
		m, err := kafkamsg.Decode(msg.Value)
		if err != nil {
			// Only a bug gets here: the publisher encoded it.
			return fmt.Errorf("kafka refused a message as too large and it cannot be decoded to delete its keys directly: %w", err)
		}
		largest := ""
		for _, k := range m.Keys {
			if len(k) > len(largest) {
				largest = k
			}
		}
		p.m.KafkaBypassed.WithLabelValues("broker").Inc()
		p.log.Error("kafka refused a message as too large: its keys are deleted straight from redis instead (first and second delete; the checkpoint waits for them); raise the broker's message.max.bytes or lower transport.kafka.max_message_bytes",
			zap.String("table", m.DB+"."+m.Table), zap.Stringer("position", m.Pos), zap.String("key_prefix", keyPrefix(largest)),
			zap.Int("message_bytes", len(msg.Value)+len(msg.Key)), zap.Int("max_message_bytes", p.cfg.MaxBytes), zap.Int("keys", len(m.Keys)),
			zap.String("reason", "broker"), zap.Error(why))
		b := event.Batch{DB: m.DB, Table: m.Table, Op: m.Op, Rows: 1, Keys: m.Keys, Pos: m.Pos, CommitTime: m.CommitTime}
		one := []kafkago.Message{msg}
		if err := p.bypassSend(ctx, b, func() { p.settled(one, false) }); err != nil {
			return err
		}
	}
	return nil
}

// refusedForGood reports whether a produce error is one no retry fixes and
// the bypass should take: the broker's MESSAGE_TOO_LARGE, decided by type.
func (p *Publisher) refusedForGood(err error) bool {
	return p.bypass != nil && errors.Is(err, kafkago.MessageSizeTooLarge)
}

// splitLargest returns the largest of msgs (value and key) and the others.
func splitLargest(msgs []kafkago.Message) (largest kafkago.Message, rest []kafkago.Message) {
	at := 0
	for i, m := range msgs {
		if len(m.Value)+len(m.Key) > len(msgs[at].Value)+len(msgs[at].Key) {
			at = i
		}
	}
	rest = append(append(rest, msgs[:at]...), msgs[at+1:]...)
	return msgs[at], rest
}

// keyPrefix is the start of a key, for a log line that must not hold
// megabytes.
func keyPrefix(k string) string {
	const n = 64
	if len(k) <= n {
		return k
	}
	return k[:n] + "…"
}
