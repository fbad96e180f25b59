package testenv

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// StartKafka starts an in-process Kafka-protocol broker (franz-go's kfake,
// in memory, one broker) on a free 127.0.0.1 port and returns its address;
// it is closed when the test ends.
//
// Like most production clusters it does not create topics on demand: a test
// creates the ones it uses (kafka-go's Client.CreateTopics); topics created
// with -1 partitions get one. Nothing needs installing, so it never skips.
func StartKafka(t testing.TB) (addr string) {
	t.Helper()
	return StartKafkaCluster(t).ListenAddrs()[0]
}

// StartKafkaCluster is StartKafka returning the broker itself, for tests
// that inject faults with its Control functions (failing produce requests,
// for example).
func StartKafkaCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(1), // port 0: the kernel picks a free port, no race
		kfake.ClusterID("cachesync-test"),
		kfake.DefaultNumPartitions(1),
	}, opts...)...)
	if err != nil {
		t.Fatalf("testenv: start kafka (kfake): %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// RefuseProduce makes c answer every produce request with a retriable error
// (NOT_ENOUGH_REPLICAS) while refuse is set, counting them in refused: a
// broker that is up but acknowledges nothing.
func RefuseProduce(c *kfake.Cluster, refuse *atomic.Bool, refused *atomic.Int64) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		refused.Add(1)
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			for _, pp := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = pp.Partition, 19 // NOT_ENOUGH_REPLICAS: retriable
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// ReadPartition returns every message of one partition of topic, from the
// start to its end now.
func ReadPartition(t testing.TB, broker, topic string, partition int) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	if last == 0 {
		return out
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: partition, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("testenv: read %s/%d: %v", topic, partition, err)
		}
		out = append(out, m)
		if m.Offset+1 >= last {
			return out
		}
	}
}
