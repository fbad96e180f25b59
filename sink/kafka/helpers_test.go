package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink"
)

var testBackoff = retry.Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}

// ackLog records the sequence numbers acknowledged to it.
type ackLog struct {
	mu   sync.Mutex
	seqs []uint64
}

func (a *ackLog) Done(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seqs = append(a.seqs, seq)
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seqs)
}

// publisherConfig is what cmd builds from a transport.kafka section that
// sets only brokers and topic: the rest is config.Default's.
func publisherConfig(brokers []string, topic string) PublisherConfig {
	k := config.Default().Transport.Kafka
	return PublisherConfig{Brokers: brokers, Topic: topic, Source: "test", MaxBytes: k.MaxMessageBytes,
		MaxInFlight: k.MaxInFlight, BatchSize: k.BatchSize, BatchTimeout: k.BatchTimeout.D()}
}

// consumerConfig is what cmd builds for group g from a transport.kafka
// section that sets only brokers, topic and dlq_topic.
func consumerConfig(brokers []string, topic, dlq string) ConsumerConfig {
	k := config.Default().Transport.Kafka
	return ConsumerConfig{Brokers: brokers, Topic: topic, Group: "g", DLQTopic: dlq,
		CommitInterval: k.CommitInterval.D(), MaxInFlight: k.ConsumerMaxInFlight}
}

// fromFile is cfg with what cmd fills from a config file that leaves
// delete.batch_keys and transport.queue_size unset; the rest as the test
// wrote it (SecondDelay 0: no second delete).
func fromFile(cfg sink.DeleterConfig) sink.DeleterConfig {
	def := config.Default()
	if cfg.BatchKeys == 0 {
		cfg.BatchKeys = def.Delete.BatchKeys
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = def.Transport.QueueSize
	}
	return cfg
}

// newTestDeleter is a Redis deleter on addr, the consumers' and the
// bypass's stage counting into m, with short timeouts so a stopped Redis shows at once.
func newTestDeleter(t testing.TB, addr string, cfg sink.DeleterConfig, acks event.Acker, m *metrics.Metrics) (*sink.Deleter, redis.UniversalClient) {
	t.Helper()
	rc := config.Default().Redis
	rc.Addrs = []string{addr}
	rc.DialTimeout, rc.ReadTimeout = config.Duration(200*time.Millisecond), config.Duration(200*time.Millisecond)
	rdb, err := sink.NewRedis(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return sink.NewDeleter(rdb, fromFile(cfg), acks, testBackoff, zaptest.NewLogger(t), m), rdb
}

func setKeys(t *testing.T, c *redis.Client, keys []string) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Set(ctx, k, "v", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}
