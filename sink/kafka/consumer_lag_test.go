package kafka

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/metrics"
)

// The consumer's lag is summed over its partitions, each as its last fetch
// saw the partition's end; a partition read again after a rebalance counts
// once.
func TestConsumerLagSumsPartitions(t *testing.T) {
	c := &Consumer{m: metrics.New(nil), log: zap.NewNop(), parts: map[int]*partState{}, inflight: map[uint64][]*fetched{}}
	lag := func() float64 { return testutil.ToFloat64(c.m.KafkaConsumerLag) }
	msg := func(p int, off, hwm int64) kafkago.Message {
		return kafkago.Message{Topic: "t", Partition: p, Offset: off, HighWaterMark: hwm}
	}
	c.track(msg(0, 0, 100)) // 99 behind on 0
	c.track(msg(1, 10, 20)) // 9 behind on 1
	if got := lag(); got != 108 {
		t.Fatalf("lag %v, want 99+9", got)
	}
	c.track(msg(0, 1, 100)) // 98 on 0
	if got := lag(); got != 107 {
		t.Fatalf("lag %v, want 98+9", got)
	}
	c.track(msg(1, 5, 20)) // partition 1 read again from an earlier offset: 14
	if got := lag(); got != 112 {
		t.Fatalf("lag %v after a re-read, want 98+14", got)
	}
	c.track(msg(0, 99, 100))
	c.track(msg(1, 19, 20))
	if got := lag(); got != 0 {
		t.Fatalf("lag %v at the end of both partitions, want 0", got)
	}
}
