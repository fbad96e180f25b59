package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestKafkaStartKafka(t *testing.T) {
	addr := testenv.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr)}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "t", NumPartitions: 2, ReplicationFactor: 1},
	}})
	if err != nil || resp.Errors["t"] != nil {
		t.Fatalf("CreateTopics: %v %v", err, resp.Errors)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "t", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "g", Topic: "t", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil || string(m.Value) != "v" {
		t.Fatalf("FetchMessage = %q, %v", m.Value, err)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatalf("CommitMessages: %v", err)
	}
}

// Two brokers in one test do not collide, and each test gets a fresh one.
func TestKafkaStartKafkaTwice(t *testing.T) {
	a, b := testenv.StartKafka(t), testenv.StartKafka(t)
	if a == b {
		t.Fatalf("both brokers on %s", a)
	}
}
