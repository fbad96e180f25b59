package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/kafka"
)

// transport is what the tailer hands batches to: the Redis deleter itself
// (direct) or the Kafka publisher. Either acknowledges each batch once it is
// safe to let the checkpoint pass it.
type transport interface {
	Send(ctx context.Context, b *event.Batch) error
	// Run works until Finish was called and everything sent is
	// acknowledged, or ctx ends (then the rest stays unacknowledged).
	Run(ctx context.Context) error
	Finish()
	release()
}

func newTransport(ctx context.Context, cfg *config.Config, acker event.Acker, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) (transport, error) {
	if cfg.Transport.Kind == "kafka" {
		return newKafkaTransport(ctx, cfg, acker, backoff, log, m)
	}
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	if err := sink.CheckRedis(ctx, rdb, cfg.Redis); errors.Is(err, sink.ErrRedisUnreachable) {
		log.Warn("redis does not answer yet; invalidations will wait for it", zap.Error(err))
	} else if err != nil {
		rdb.Close()
		return nil, err
	}
	del := sink.NewDeleter(rdb, deleterConfig(cfg), acker, backoff, log.Named("deleter"), m)
	return &directTransport{Deleter: del, close: func() { rdb.Close() }}, nil
}

func deleterConfig(cfg *config.Config) sink.DeleterConfig {
	return sink.DeleterConfig{
		SecondDelay: cfg.Delete.SecondDelay.D(), UseDel: cfg.Delete.Command == "del",
		BatchKeys: cfg.Delete.BatchKeys, QueueSize: cfg.Transport.QueueSize,
	}
}

type directTransport struct {
	*sink.Deleter
	close func()
}

func (d *directTransport) Finish()  { d.Close() }
func (d *directTransport) release() { d.close() }

// kafkaTransport publishes to Kafka; a change Kafka can never carry (a
// key larger than a message) goes to its bypass, a Redis deleter, instead
// of stalling the stream (see kafka.Bypass).
type kafkaTransport struct {
	p      *kafka.Publisher
	bypass *sink.Deleter
	rdb    redis.UniversalClient
	finish chan struct{}
	once   sync.Once
}

func newKafkaTransport(ctx context.Context, cfg *config.Config, acker event.Acker, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) (*kafkaTransport, error) {
	k := cfg.Transport.Kafka
	conn, err := kafka.NewConn(k)
	if err != nil {
		return nil, err
	}
	if err := ensureTopics(ctx, k, conn, backoff, log, kafka.TopicSpec{Name: k.Topic, Partitions: k.Partitions, Create: k.CreateTopic, Role: "invalidations"}); err != nil {
		return nil, err
	}
	p := kafka.NewPublisher(kafka.PublisherConfig{
		Brokers: k.Brokers, Topic: k.Topic, Source: cfg.Source.Addr,
		MaxBytes: k.MaxMessageBytes, MaxInFlight: k.MaxInFlight, BatchSize: k.BatchSize, BatchTimeout: k.BatchTimeout.D(),
		Transport: conn.Transport,
	}, acker, backoff, log.Named("publisher"), m)
	// go-redis connects on first use: a tailer that never meets an
	// oversized change never connects to Redis.
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	bypass := sink.NewDeleter(rdb, deleterConfig(cfg), event.AckerFunc(p.BypassDone), backoff, log.Named("bypass"), m)
	p.SetBypass(bypass)
	return &kafkaTransport{p: p, bypass: bypass, rdb: rdb, finish: make(chan struct{})}, nil
}

func (t *kafkaTransport) Send(ctx context.Context, b *event.Batch) error { return t.p.Send(ctx, b) }
func (t *kafkaTransport) Finish()                                        { t.once.Do(func() { close(t.finish) }) }
func (t *kafkaTransport) release()                                       { t.rdb.Close() }

// Run runs the publisher's retries and the bypass deleter until Finish and
// every message is acknowledged or deleted, or ctx ends.
func (t *kafkaTransport) Run(ctx context.Context) error {
	bctx, stopBypass := context.WithCancel(ctx)
	defer stopBypass()
	bypassDone := make(chan error, 1)
	go func() { bypassDone <- t.bypass.Run(bctx) }()
	pctx, stopPublisher := context.WithCancel(ctx)
	publisherDone := make(chan error, 1)
	go func() { publisherDone <- t.p.Run(pctx) }()
	var err, perr error
	stopped := false
	select {
	case <-t.finish:
		err = t.p.Close(ctx)
	case <-ctx.Done():
		err = ctx.Err()
	case perr = <-publisherDone: // only a bug in the bypass ends it early
		stopped = true
	}
	// The publisher hands refused messages to the bypass: it stops first,
	// then the bypass drains (or stops, with ctx).
	stopPublisher()
	if !stopped {
		perr = <-publisherDone
	}
	if errors.Is(perr, context.Canceled) {
		perr = nil
	}
	t.bypass.Close()
	berr := <-bypassDone
	if errors.Is(berr, context.Canceled) {
		berr = nil
	}
	return errors.Join(err, perr, berr)
}

// ensureTopics checks (and, if allowed, creates) the topics, waiting while
// no broker answers: a sidecar often starts before its Kafka. A missing
// topic it may not create is an error at once.
func ensureTopics(ctx context.Context, k config.KafkaConfig, conn kafka.Conn, backoff retry.Backoff, log *zap.Logger, specs ...kafka.TopicSpec) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, metadataTimeout(k))
		err := conn.EnsureTopics(cctx, specs...)
		cancel()
		if ctx.Err() != nil {
			// A stop asked for while the probe ran: its error (often a
			// refused dial, not a canceled one) is no failure to report.
			return ctx.Err()
		}
		var missing *kafka.MissingTopicError
		if err == nil || errors.As(err, &missing) || errors.Is(err, kafka.ErrRefused) {
			return err
		}
		log.Warn("kafka does not answer yet; waiting for it", zap.Strings("brokers", k.Brokers), zap.Error(err))
		if err := retry.SleepCtx(ctx, backoff.Delay(attempt)); err != nil {
			return err
		}
	}
}

// runConsumer is the deleting side of the Kafka transport: it consumes the
// topic in the group and deletes, until soft ends (then it finishes what it
// fetched, commits and leaves the group) or hard ends.
func runConsumer(soft, hard context.Context, cfg *config.Config, log *zap.Logger, m *metrics.Metrics, h *health) error {
	h.starting("consumer")
	k := cfg.Transport.Kafka
	backoff := cfg.Retry.Backoff()
	conn, err := kafka.NewConn(k)
	if err != nil {
		return err
	}
	dlq := dlqTopic(k)
	if err := ensureTopics(soft, k, conn, backoff, log,
		kafka.TopicSpec{Name: k.Topic, Partitions: k.Partitions, Create: k.CreateTopic, Role: "invalidations"},
		kafka.TopicSpec{Name: dlq, Partitions: 1, Create: k.CreateTopic, Role: "dead letters"}); err != nil {
		return err
	}
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := sink.CheckRedis(soft, rdb, cfg.Redis); errors.Is(err, sink.ErrRedisUnreachable) {
		log.Warn("redis does not answer yet; invalidations will wait for it", zap.Error(err))
	} else if err != nil {
		return err
	}
	c := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: k.Brokers, Topic: k.Topic, Group: k.Group, DLQTopic: dlq,
		CommitInterval: k.CommitInterval.D(), MaxInFlight: k.ConsumerMaxInFlight, Dialer: conn.Dialer, Transport: conn.Transport}, backoff, log.Named("consumer"), m)
	finished := newLastDone()
	defer h.pending("kafka messages fetched and not yet deleted twice", c.InFlight)()
	del := sink.NewDeleter(rdb, deleterConfig(cfg), event.AckerFunc(func(seq uint64) {
		c.Done(seq)
		finished.done()
	}), backoff, log.Named("deleter"), m)
	wctx, stopWatch := context.WithCancel(hard)
	defer stopWatch()
	go watchStall(wctx, h, "consumer", c.InFlight, finished, cfg.HTTP.StallAfter.D(), time.Second)
	delDone := make(chan error, 1)
	go func() { delDone <- del.Run(hard) }()
	runErr := c.Run(soft, del)
	log.Info("kafka fetching stopped; finishing invalidations in flight", zap.Int("messages_in_flight", c.InFlight()))
	del.Close()
	delErr := <-delDone
	if errors.Is(delErr, context.Canceled) {
		delErr = nil
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeErr := c.Close(cctx)
	log.Info("consumer stopped", zap.Int("messages_unfinished", c.InFlight()))
	return errors.Join(runErr, delErr, closeErr)
}

// dlqTopic is transport.kafka.dlq_topic, or the topic's name + ".dlq".
func dlqTopic(k config.KafkaConfig) string {
	if k.DLQTopic != "" {
		return k.DLQTopic
	}
	return k.Topic + ".dlq"
}
