package pipeline

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/kafka"
)

// Consumer is the deleting side of the Kafka transport: it consumes the
// topic in the group and deletes, until soft ends (then it finishes what it
// fetched, commits and leaves the group) or hard ends.
func Consumer(soft, hard context.Context, cfg *config.Config, d Deps) error {
	log, m, h := d.log(), d.Metrics, d.Health
	h.starting("consumer")
	k := cfg.Transport.Kafka
	backoff := cfg.Retry.Backoff()
	conn, err := kafka.NewConn(k)
	if err != nil {
		return err
	}
	dlq := k.DeadLetterTopic()
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
	if err := checkRedis(soft, rdb, cfg.Redis, false, log); err != nil {
		return err
	}
	c := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: k.Brokers, Topic: k.Topic, Group: k.Group, DLQTopic: dlq,
		CommitInterval: k.CommitInterval.D(), MaxInFlight: k.ConsumerMaxInFlight, Dialer: conn.Dialer, Transport: conn.Transport}, backoff, log.Named("consumer"), m)
	finished := newLastDone()
	defer h.pending("kafka messages fetched and not yet deleted twice", c.InFlight)()
	w := newReplicaWatcher(cfg, d)
	var del event.Output = sink.NewDeleter(rdb, withReplicas(deleterConfig(cfg), cfg, w), event.AckerFunc(func(seq uint64) {
		c.Done(seq)
		finished.done()
	}), backoff, log.Named("deleter"), m)
	if w != nil {
		del = watchedDeleter{del.(*sink.Deleter), w}
	}
	wctx, stopWatch := context.WithCancel(hard)
	defer stopWatch()
	go watchStall(wctx, h, "consumer", stallHint("direct"), c.InFlight, finished, cfg.HTTP.StallAfter.D(), time.Second)
	delDone := make(chan error, 1)
	go func() { delDone <- del.Run(hard) }()
	runErr := c.Run(soft, del)
	log.Info("kafka fetching stopped; finishing invalidations in flight", zap.Int("messages_in_flight", c.InFlight()))
	del.Close()
	delErr := <-delDone
	if errors.Is(delErr, context.Canceled) {
		delErr = nil
	}
	cctx, cancel := context.WithTimeout(context.Background(), d.finalSave())
	defer cancel()
	closeErr := c.Close(cctx)
	log.Info("consumer stopped", zap.Int("messages_unfinished", c.InFlight()))
	return errors.Join(runErr, delErr, closeErr)
}
