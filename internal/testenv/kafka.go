package testenv

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
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
