package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// ConsumerConfig shapes the Kafka consumer. cmd fills it from
// transport.kafka; the defaults are config.Default's, and zero means zero
// here (config.Validate refuses a zero for each of the numbers).
type ConsumerConfig struct {
	Brokers        []string
	Topic, Group   string
	DLQTopic       string          // poison messages go here; required
	CommitInterval time.Duration   // how often done offsets are committed (commit_interval)
	MaxInFlight    int             // messages fetched and not yet done before fetching waits (consumer_max_in_flight)
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

// NewConsumer returns a consumer; Run it with the sink that deletes.
func NewConsumer(cfg ConsumerConfig, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) *Consumer {
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
		QueueCapacity:  100,                 // fetched ahead; 1000 whole-rows-event messages (message: batch) were ~40 MiB
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
		size := 0
		select {
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			group = append(group, m)
			size += len(m.Value)
		case <-ctx.Done():
			return nil
		}
	more: // whatever else is already fetched goes in the same batch
		for len(group) < maxGroup && size < maxGroupBytes {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				group = append(group, m)
				size += len(m.Value)
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

// maxGroup and maxGroupBytes bound the messages merged into one batch for
// the deleter: 512 one-row messages, or a few messages of a whole rows event
// each (message: batch), whose 512 would make one batch of a million keys.
const (
	maxGroup      = 512
	maxGroupBytes = 256 << 10
)

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
