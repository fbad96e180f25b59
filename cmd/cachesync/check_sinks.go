package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/kafka"
)

// checkRedisOnline connects to Redis as run would and says why it cannot:
// unreachable, wrong credentials, missing permissions, TLS mismatch.
func checkRedisOnline(ctx context.Context, c config.RedisConfig) error {
	rdb, err := sink.NewRedis(c)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return sink.CheckRedis(ctx, rdb, c)
}

// checkKafkaOnline reads the topics' metadata as run would. A missing topic
// that run may create is a note, not a failure.
func checkKafkaOnline(ctx context.Context, k config.KafkaConfig, stdout io.Writer) error {
	conn, err := kafka.NewConn(k)
	if err != nil {
		return err
	}
	defer conn.Transport.CloseIdleConnections()
	cctx, cancel := context.WithTimeout(ctx, k.MetadataTimeout())
	defer cancel()
	err = conn.EnsureTopics(cctx,
		kafka.TopicSpec{Name: k.Topic, Role: "invalidations"},
		kafka.TopicSpec{Name: k.DeadLetterTopic(), Role: "dead letters"})
	var missing *kafka.MissingTopicError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing) && k.CreateTopic:
		for _, t := range missing.Topics {
			fmt.Fprintf(stdout, "note: kafka topic %q does not exist yet; run creates it (transport.kafka.create_topic: true)\n", t)
		}
		return nil
	}
	return err
}

// configWarnings are the valid but unsafe settings run would log at start.
func configWarnings(cfg *config.Config) []string {
	w := append(append(cfg.Source.Warnings(), cfg.Redis.Warnings()...), cfg.ReplicaWarnings()...)
	w = append(w, cfg.RuleWarnings()...)
	if cfg.Transport.Kind == "kafka" {
		w = append(w, cfg.Transport.Kafka.Warnings()...)
	}
	return w
}
