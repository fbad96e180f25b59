package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// OutputOptions say who an output is for.
type OutputOptions struct {
	// DryRun, when set, gets every key printed instead of invalidated
	// (replay and backfill --dry-run).
	DryRun io.Writer
	// OneShot is replay and backfill: a Redis that does not answer now is
	// an error (nothing was deleted), where run waits for it.
	OneShot bool
	// OnRedisConnect, when set, is called (without blocking) each time the
	// output's Redis client opens a connection: run's restart watch looks
	// at the servers' run_ids then.
	OnRedisConnect func()
}

// NewOutput returns where batches go with cfg: the Redis deleter
// (transport.kind direct), the Kafka publisher (kafka), or the printer of
// a dry run. Each acknowledges a batch to acker once it is safe to let the
// checkpoint pass it. The returned func frees the output's connections once
// its Run has returned.
func NewOutput(ctx context.Context, cfg *config.Config, acker event.Acker, o OutputOptions, d Deps) (event.Output, func(), error) {
	log, m := d.log(), d.Metrics
	if o.DryRun != nil {
		return sink.NewPrinter(o.DryRun, acker), func() {}, nil
	}
	backoff := cfg.Retry.Backoff()
	if cfg.Transport.Kind == "kafka" {
		t, err := newKafkaOutput(ctx, cfg, acker, backoff, log, m)
		if err != nil {
			return nil, nil, err
		}
		return t, t.release, nil
	}
	rdb, err := sink.NewRedisNotify(cfg.Redis, o.OnRedisConnect)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRedis(ctx, rdb, cfg.Redis, o.OneShot, log); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	w := newReplicaWatcher(cfg, d)
	if o.OneShot {
		w = nil // replay and backfill: the fixed second delay
	}
	del := sink.NewDeleter(rdb, withReplicas(deleterConfig(cfg), cfg, w), acker, backoff, log.Named("deleter"), m)
	if w != nil {
		return watchedDeleter{del, w}, func() { rdb.Close() }, nil
	}
	return del, func() { rdb.Close() }, nil
}

// checkRedis asks Redis before anything is deleted: run waits for a Redis
// that does not answer yet (a sidecar often starts first); a one-shot says
// so and stops.
func checkRedis(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig, oneShot bool, log *zap.Logger) error {
	if oneShot {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			return fmt.Errorf("redis %v is not reachable (%v): nothing was deleted; start it or fix redis.addrs", c.Addrs, err)
		}
		return nil
	}
	err := sink.CheckRedis(ctx, rdb, c)
	if errors.Is(err, sink.ErrRedisUnreachable) {
		log.Warn("redis does not answer yet; invalidations will wait for it", zap.Error(err))
		return nil
	}
	return err
}

func deleterConfig(cfg *config.Config) sink.DeleterConfig {
	return sink.DeleterConfig{
		SecondDelay: cfg.Delete.SecondDelay.D(), UseDel: cfg.Delete.Command == "del",
		BatchKeys: cfg.Delete.BatchKeys, QueueSize: cfg.Transport.QueueSize,
		FirstInFlight: cfg.Redis.FirstDeletesInFlight(),
		SkipSecondAge: cfg.Delete.SecondSkipAge(),
	}
}

// kafkaOutput publishes to Kafka; a change Kafka can never carry (a key
// larger than a message) goes to its bypass, a Redis deleter, instead of
// stalling the stream (see kafka.Bypass).
type kafkaOutput struct {
	p      *kafka.Publisher
	bypass *sink.Deleter
	rdb    redis.UniversalClient
	finish chan struct{}
	once   sync.Once
}

func newKafkaOutput(ctx context.Context, cfg *config.Config, acker event.Acker, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) (*kafkaOutput, error) {
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
	return &kafkaOutput{p: p, bypass: bypass, rdb: rdb, finish: make(chan struct{})}, nil
}

func (t *kafkaOutput) Send(ctx context.Context, b *event.Batch) error { return t.p.Send(ctx, b) }
func (t *kafkaOutput) Close()                                         { t.once.Do(func() { close(t.finish) }) }
func (t *kafkaOutput) release()                                       { t.rdb.Close() }

// Run runs the publisher's retries and the bypass deleter until Close and
// every message is acknowledged or deleted, or ctx ends.
func (t *kafkaOutput) Run(ctx context.Context) error {
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
		cctx, cancel := context.WithTimeout(ctx, k.MetadataTimeout())
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

// Feed is the one order of a one-shot run (replay, backfill, a gap's
// backfill): out runs on runCtx while send fills it; then out is closed and
// drains, while settle (if any) waits for the acknowledgements it needs.
func Feed(runCtx context.Context, out event.Output, send func() error, settle func() error) (sendErr, settleErr, outErr error) {
	outDone := make(chan error, 1)
	go func() { outDone <- out.Run(runCtx) }()
	sendErr = send()
	out.Close() // the output finishes what it has, second deletes included
	if settle != nil {
		settleErr = settle()
	}
	return sendErr, settleErr, <-outDone
}
