package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// PublisherConfig shapes the Kafka publisher. cmd fills it from
// transport.kafka; the defaults are config.Default's, and zero means zero
// here (config.Validate refuses a zero for each of the numbers).
type PublisherConfig struct {
	Brokers      []string
	Topic        string
	Source       string        // names the MySQL source in every message
	MaxBytes     int           // one record, value + key + framing (max_message_bytes)
	MaxInFlight  int           // messages written and not yet acknowledged (max_in_flight)
	BatchSize    int           // messages per produce request and partition (batch_size)
	BatchTimeout time.Duration // how long a partial batch waits for more (batch_timeout)
	Transport    kafkago.RoundTripper
}

// Publisher is the tailer's side of the Kafka transport. Send turns a batch
// into one message per row change (keyed by the row's identity, so a row's
// changes stay in one partition and in binlog order), splitting a row whose
// keys exceed the record limit. A batch is acknowledged to the checkpoint
// tracker only when the broker has acknowledged (acks=all) every message of
// it. A failed produce is retried with backoff for as long as it takes: the
// in-flight bound then blocks Send, which holds the tailer back.
type Publisher struct {
	cfg     PublisherConfig
	w       *kafkago.Writer
	acker   event.Acker
	backoff retry.Backoff
	log     *zap.Logger
	m       *metrics.Metrics

	slots   *semaphore.Weighted // one per unacknowledged message
	pending atomic.Int64
	bufHint atomic.Int64 // the last batch's encoded size: the next one's first guess

	mu      sync.Mutex
	retries []*retryGroup // failed produce requests waiting to be written again
	wake    chan struct{}
	lastLog time.Time

	bypass    Bypass            // see SetBypass; nil: none
	bypassSeq uint64            // under mu
	bypassed  map[uint64]func() // bypass seq → what to do once deleted; under mu
}

// pendingBatch counts the messages of one batch not yet acknowledged.
type pendingBatch struct {
	seq   uint64
	left  atomic.Int32
	table string         // db.table, for logs
	pos   event.Position // the rows event's, for logs
	keys  int
}

type retryGroup struct {
	msgs    []kafkago.Message
	attempt int
	due     time.Time
	refused error // the broker refused them for good: Run hands them to the bypass
}

// NewPublisher returns a publisher writing to cfg.Topic. Call Run, then Send,
// then Close to wait for the last acknowledgements.
func NewPublisher(cfg PublisherConfig, acker event.Acker, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) *Publisher {
	p := &Publisher{cfg: cfg, acker: acker, backoff: backoff, log: log, m: m,
		slots: semaphore.NewWeighted(int64(cfg.MaxInFlight)), wake: make(chan struct{}, 1)}
	p.w = &kafkago.Writer{
		Addr:            kafkago.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafkago.Hash{}, // FNV-1a of the row identity, like librdkafka's "fnv1a"
		RequiredAcks:    kafkago.RequireAll,
		Async:           true, // acknowledgements arrive in Completion; Send never waits a BatchTimeout
		Completion:      p.completed,
		BatchSize:       cfg.BatchSize,
		BatchBytes:      int64(cfg.MaxBytes),
		BatchTimeout:    cfg.BatchTimeout,
		MaxAttempts:     3,
		WriteBackoffMin: 20 * time.Millisecond, WriteBackoffMax: 500 * time.Millisecond,
		Transport: cfg.Transport,
	}
	return p
}

// Send publishes b's keys, blocking while MaxInFlight messages are
// unacknowledged. It returns only when every message is handed to the
// writer (or ctx ends); acknowledgement comes later, through the acker.
func (p *Publisher) Send(ctx context.Context, b *event.Batch) error {
	msgs := make([]kafkago.Message, 0, max(1, len(b.RowIDs)))
	pb := &pendingBatch{seq: b.Seq, table: b.DB + "." + b.Table, pos: b.Pos, keys: len(b.Keys)}
	sets := b.Sets // with the first message; the versions make their order free
	// One buffer holds every value and key of the batch: one allocation
	// (and one object for the collector) instead of two per message.
	buf := make([]byte, 0, p.bufHint.Load())
	err := b.RowKeys(func(id string, keys []string, guarded []bool) error {
		if len(sets) > 0 {
			keys = slices.Clone(keys)
			for i := range sets {
				keys = append(keys, sets[i].Key)
			}
		}
		var parts [][]byte
		var err error
		buf, parts, err = kafkamsg.AppendEncoded(buf, kafkamsg.Message{Source: p.cfg.Source, DB: b.DB, Table: b.Table, Op: b.Op,
			Row: id, Pos: b.Pos, CommitTime: b.CommitTime, Keys: keys, Guarded: guarded, TrxGTID: b.GTID, Sets: sets}, p.cfg.MaxBytes)
		sets = nil
		if err != nil {
			return err
		}
		k := len(buf)
		buf = append(buf, id...)
		key := buf[k:len(buf):len(buf)]
		for _, v := range parts {
			msgs = append(msgs, kafkago.Message{Key: key, Value: v, WriterData: pb})
		}
		return nil
	})
	p.bufHint.Store(int64(min(len(buf), 4<<20)))
	var tooLarge *kafkamsg.KeyTooLargeError
	if errors.As(err, &tooLarge) && p.bypass != nil {
		return p.bypassBatch(ctx, b, tooLarge)
	}
	if err != nil {
		// Nothing the tailer renders can fail here except a single key larger
		// than a record: that is a configuration problem, not a transient one.
		return fmt.Errorf("publish %d keys of %s.%s at %s: %w", len(b.Keys), b.DB, b.Table, b.Pos, err)
	}
	if len(msgs) == 0 {
		p.acker.Done(b.Seq)
		return nil
	}
	pb.left.Store(int32(len(msgs)))
	// Take the slots one chunk at a time so a batch larger than the whole
	// budget cannot wait forever.
	for i := 0; i < len(msgs); {
		n := min(len(msgs)-i, p.cfg.MaxInFlight)
		if err := p.slots.Acquire(ctx, int64(n)); err != nil {
			return err
		}
		p.pending.Add(int64(n))
		p.m.KafkaPublishPending.Set(float64(p.pending.Load()))
		if err := p.write(ctx, msgs[i:i+n]); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// write hands msgs to the async writer. It fails only before the messages
// are queued (no metadata: broker down, topic missing); that is retried here.
func (p *Publisher) write(ctx context.Context, msgs []kafkago.Message) error {
	for attempt := 0; ; attempt++ {
		err := p.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.m.KafkaPublishErrors.Inc()
		p.logFailure("kafka does not take messages; retrying, the tailer waits", msgs, err)
		if err := retry.SleepCtx(ctx, p.backoff.Delay(attempt)); err != nil {
			return err
		}
	}
}

// completed runs on the writer's goroutines once per produce request.
func (p *Publisher) completed(msgs []kafkago.Message, err error) {
	if err != nil {
		p.m.KafkaPublishErrors.Inc()
		msgs = append([]kafkago.Message(nil), msgs...)
		for i := range msgs {
			msgs[i].Topic = "" // set by the writer; it refuses a message naming its own topic
		}
		if p.refusedForGood(err) {
			// The broker refused the whole request: the largest message goes
			// to the bypass, the others are written again (they may only
			// have shared a request with it).
			refused, rest := splitLargest(msgs)
			p.requeue(&retryGroup{msgs: []kafkago.Message{refused}, refused: err, due: time.Now()})
			if len(rest) > 0 {
				p.requeue(&retryGroup{msgs: rest, due: time.Now()})
			}
			return
		}
		p.logFailure("kafka did not acknowledge messages; retrying them", msgs, err)
		p.requeue(&retryGroup{msgs: msgs, due: time.Now().Add(p.backoff.Delay(0))})
		return
	}
	p.settled(msgs, true)
}

// settled acknowledges msgs: published by the broker, or their keys
// deleted through the bypass.
func (p *Publisher) settled(msgs []kafkago.Message, published bool) {
	for i := range msgs {
		pb := msgs[i].WriterData.(*pendingBatch)
		if pb.left.Add(-1) == 0 {
			p.acker.Done(pb.seq)
		}
	}
	p.slots.Release(int64(len(msgs)))
	if published {
		p.m.KafkaPublished.Add(float64(len(msgs)))
	}
	p.m.KafkaPublishPending.Set(float64(p.pending.Add(-int64(len(msgs)))))
}

func (p *Publisher) requeue(g *retryGroup) {
	p.mu.Lock()
	p.retries = append(p.retries, g)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// logFailure logs at most once a second; the counter has every failure.
// The line names the first message's table, binlog position and the keys
// of its batch.
func (p *Publisher) logFailure(msg string, msgs []kafkago.Message, err error) {
	p.mu.Lock()
	now := time.Now()
	quiet := now.Sub(p.lastLog) < time.Second
	if !quiet {
		p.lastLog = now
	}
	p.mu.Unlock()
	if !quiet {
		fields := []zap.Field{zap.String("topic", p.cfg.Topic), zap.Int("messages", len(msgs))}
		if len(msgs) > 0 {
			if pb, ok := msgs[0].WriterData.(*pendingBatch); ok {
				fields = append(fields, zap.String("table", pb.table), zap.Int("keys", pb.keys), zap.Stringer("position", pb.pos))
			}
		}
		p.log.Warn(msg, append(fields, zap.Error(err))...)
	}
}

// Run writes failed produce requests again, with backoff, until ctx ends.
// Messages are never dropped: a request that keeps failing keeps its slots,
// so the tailer stops reading until Kafka is back.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		p.mu.Lock()
		var due []*retryGroup
		next := time.Time{}
		keep := p.retries[:0]
		now := time.Now()
		for _, g := range p.retries {
			if !g.due.After(now) {
				due = append(due, g)
				continue
			}
			keep = append(keep, g)
			if next.IsZero() || g.due.Before(next) {
				next = g.due
			}
		}
		p.retries = keep
		p.mu.Unlock()
		for _, g := range due {
			if g.refused != nil {
				if err := p.bypassRefused(ctx, g.msgs, g.refused); err != nil {
					return err
				}
				continue
			}
			g.attempt++
			// A retry that cannot even be queued goes back with a longer wait;
			// one that is queued reports through completed again.
			if err := p.w.WriteMessages(ctx, g.msgs...); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p.m.KafkaPublishErrors.Inc()
				p.logFailure("kafka does not take messages; retrying", g.msgs, err)
				g.due = time.Now().Add(p.backoff.Delay(g.attempt))
				p.mu.Lock()
				p.retries = append(p.retries, g)
				p.mu.Unlock()
				if next.IsZero() || g.due.Before(next) {
					next = g.due
				}
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-time.After(wait):
		}
	}
}

// Pending is the number of messages not yet acknowledged.
func (p *Publisher) Pending() int64 { return p.pending.Load() }

// Close waits until every message is acknowledged or ctx ends (then the
// unacknowledged batches simply stay unacknowledged: the checkpoint has not
// passed them, so they are published again after a restart), then closes the
// writer.
func (p *Publisher) Close(ctx context.Context) error {
	var err error
	if werr := p.slots.Acquire(ctx, int64(p.cfg.MaxInFlight)); werr != nil {
		err = fmt.Errorf("stopped with %d messages not acknowledged by kafka; they will be published again from the checkpoint: %w", p.pending.Load(), werr)
	} else {
		p.slots.Release(int64(p.cfg.MaxInFlight))
	}
	done := make(chan error, 1)
	go func() { done <- p.w.Close() }()
	select {
	case cerr := <-done:
		if cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = errors.Join(err, cerr)
		}
	case <-ctx.Done():
	}
	return err
}
