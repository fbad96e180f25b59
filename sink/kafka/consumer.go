package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// ConsumerConfig shapes the Kafka consumer; zero values have defaults.
type ConsumerConfig struct {
	Brokers        []string
	Topic, Group   string
	DLQTopic       string          // poison messages go here; required
	CommitInterval time.Duration   // how often done offsets are committed; default 200ms
	MaxInFlight    int             // messages fetched and not yet done before fetching waits; default 200000
	Dialer         *kafkago.Dialer // TLS and SASL for the reader; nil: plain TCP
	Transport      kafkago.RoundTripper
}

// Consumer is the deleting side of the Kafka transport: it fetches messages
// in a consumer group, hands each to an event.Sink (the Redis deleter) and
// commits a partition's offset only up to the last message that is fully
// done — both deletes — with every message before it done too. An
// undecodable message goes to the DLQ topic with the reason and its origin,
// and then counts as done, so it never blocks its partition. Delivery is
// at-least-once: after a crash or a rebalance the messages after the last
// commit come again, and deleting twice is harmless.
type Consumer struct {
	cfg     ConsumerConfig
	r       *kafkago.Reader
	dlq     *kafkago.Writer
	admin   *kafkago.Client // reads the group's offsets before a commit
	backoff retry.Backoff
	log     *zap.Logger
	m       *metrics.Metrics

	slots *semaphore.Weighted // one per fetched message not yet done

	mu       sync.Mutex
	held     int // messages tracked and not done
	seq      uint64
	inflight map[uint64][]*fetched // by the Seq of the batch they were handed over in
	parts    map[int]*partState
	lagTotal int64 // sum of the parts' lag: cachesync_kafka_consumer_lag_messages
}

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

// NewConsumer returns a consumer; Run it with the sink that deletes.
func NewConsumer(cfg ConsumerConfig, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) *Consumer {
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 200 * time.Millisecond
	}
	cfg.MaxInFlight = orDefault(cfg.MaxInFlight, 200000)
	c := &Consumer{cfg: cfg, backoff: backoff, log: log, m: m, slots: semaphore.NewWeighted(int64(cfg.MaxInFlight)),
		inflight: map[uint64][]*fetched{}, parts: map[int]*partState{}}
	c.r = kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:        cfg.Brokers,
		GroupID:        cfg.Group,
		Topic:          cfg.Topic,
		Dialer:         cfg.Dialer,
		MinBytes:       1,
		MaxBytes:       2 << 20, // per partition fetch; the broker still returns a bigger single message
		MaxWait:        100 * time.Millisecond,
		ReadBackoffMin: 10 * time.Millisecond,
		ReadBackoffMax: 500 * time.Millisecond,
		QueueCapacity:  1000,
		StartOffset:    kafkago.FirstOffset, // a new group reads what the tailer already published
		// A member that died (kill -9) holds its partitions until its session
		// times out: 10s, not kafka-go's 30s, so a survivor takes over soon.
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: time.Second,
		RebalanceTimeout:  10 * time.Second,
		// CommitInterval 0: CommitMessages commits synchronously; this
		// consumer decides when (commitLoop), never kafka-go on fetch.
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			log.Debug("kafka reader: " + fmt.Sprintf(msg, args...))
		}),
	})
	c.admin = &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: cfg.Transport}
	c.dlq = &kafkago.Writer{
		Addr: kafkago.TCP(cfg.Brokers...), Topic: cfg.DLQTopic, RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond, MaxAttempts: 3, Transport: cfg.Transport,
	}
	return c
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

// Run fetches and hands messages to out until ctx ends, committing done
// offsets every CommitInterval. Call Close after out has drained.
func (c *Consumer) Run(ctx context.Context, out event.Sink) error {
	commitCtx, stopCommits := context.WithCancel(context.WithoutCancel(ctx))
	commitDone := make(chan struct{})
	go func() { defer close(commitDone); c.commitLoop(commitCtx) }()
	defer func() { stopCommits(); <-commitDone }()
	c.log.Info("consuming", zap.String("topic", c.cfg.Topic), zap.String("group", c.cfg.Group))
	msgs := make(chan kafkago.Message, 256)
	fctx, stopFetch := context.WithCancel(ctx)
	fetchDone := make(chan struct{})
	go func() { defer close(fetchDone); c.fetchLoop(fctx, msgs) }()
	defer func() {
		stopFetch()
		for range msgs { // fetched, never handed over: not done, so not committed
			c.slots.Release(1)
		}
		<-fetchDone
	}()
	group := make([]kafkago.Message, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			group = append(group, m)
		case <-ctx.Done():
			return nil
		}
	more: // whatever else is already fetched goes in the same batch
		for len(group) < maxGroup {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				group = append(group, m)
			default:
				break more
			}
		}
		if err := c.handle(ctx, group, out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// maxGroup bounds the messages merged into one batch for the deleter.
const maxGroup = 512

// fetchLoop fetches until ctx ends, then closes msgs. Each message takes a
// slot, given back when it is done: a message holds its keys until the
// second delete, so the slots bound the consumer's memory.
func (c *Consumer) fetchLoop(ctx context.Context, msgs chan<- kafkago.Message) {
	defer close(msgs)
	for attempt := 0; ; {
		if err := c.slots.Acquire(ctx, 1); err != nil {
			return
		}
		msg, err := c.r.FetchMessage(ctx)
		if err != nil {
			c.slots.Release(1)
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("kafka fetch failed; retrying", zap.String("topic", c.cfg.Topic), zap.Error(err))
			if err := retry.SleepCtx(ctx, c.backoff.Delay(attempt)); err != nil {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		select {
		case msgs <- msg:
		case <-ctx.Done():
			c.slots.Release(1)
			return
		}
	}
}

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
			b = &event.Batch{DB: dm.DB, Table: dm.Table, Op: dm.Op, Pos: dm.Pos, CommitTime: dm.CommitTime,
				Keys: make([]string, 0, len(group)*len(dm.Keys))}
		} else if dm.CommitTime.Before(b.CommitTime) {
			b.CommitTime = dm.CommitTime // the latency metric counts from the oldest commit
		}
		for i, k := range dm.Keys {
			b.AddKey(k, i < len(dm.Guarded) && dm.Guarded[i])
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

func (c *Consumer) commitLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = c.Commit(ctx)
		}
	}
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

// InFlight is the number of fetched messages not yet done.
func (c *Consumer) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Close commits what is done and leaves the group. Call it after the
// deleter has drained.
func (c *Consumer) Close(ctx context.Context) error {
	err := c.Commit(ctx)
	return errors.Join(err, c.r.Close(), c.dlq.Close())
}
