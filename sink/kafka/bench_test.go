package kafka

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// ackSink acknowledges every batch at once: the Kafka transport measured
// without Redis.
type ackSink struct {
	c    *Consumer
	keys atomic.Int64
}

func (a *ackSink) Send(_ context.Context, b *event.Batch) error {
	a.keys.Add(int64(len(b.Keys)))
	a.c.Done(b.Seq)
	return nil
}

// BenchmarkKafkaTransport pushes 200,000 row changes (2 keys each, 100 rows
// per batch as a 1,000-row UPDATE's rows events carry) through the
// publisher, the in-process kfake broker and the consumer, and reports rows
// per second from the first Send until the consumer has fetched every
// message and the tailer side has every acknowledgement.
//
// "message=row" is what cachesync does (one message per row change, keyed by
// the row); "message=batch" is the alternative the design weighed: one
// message per rows event (100 rows), keyed by the table.
//
//	go test ./sink/kafka -run '^$' -bench KafkaTransport -benchtime 1x -count 3
func BenchmarkKafkaTransport(b *testing.B) {
	const rows, per = 200000, 100
	for _, perRow := range []bool{true, false} {
		name := "message=row"
		if !perRow {
			name = "message=batch"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				kafkaTransportOnce(b, rows, per, perRow)
			}
		})
	}
}

func kafkaTransportOnce(b *testing.B, rows, per int, perRow bool) {
	b.StopTimer()
	brokers := []string{testenv.StartKafka(b)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := EnsureTopics(ctx, brokers, nil, TopicSpec{Name: "inv", Partitions: 4, Create: true},
		TopicSpec{Name: "inv.dlq", Partitions: 1, Create: true}); err != nil {
		b.Fatal(err)
	}
	m := metrics.New(nil)
	var acked atomic.Int64
	pc := publisherConfig(brokers, "inv")
	pc.Source = "bench"
	p := NewPublisher(pc,
		event.AckerFunc(func(uint64) { acked.Add(1) }), testBackoff, zap.NewNop(), m)
	go p.Run(ctx) //nolint:errcheck
	c := NewConsumer(consumerConfig(brokers, "inv", "inv.dlq"), testBackoff, zap.NewNop(), m)
	sink := &ackSink{c: c}
	go c.Run(ctx, sink) //nolint:errcheck
	batches, keys := rowBatches(0, rows/per, per)
	if !perRow {
		for _, bt := range batches {
			bt.RowIDs, bt.RowEnds = nil, nil
		}
	}
	b.StartTimer()
	start := time.Now()
	var seq uint64
	for _, bt := range batches {
		seq++
		bt.Seq = seq
		if err := p.Send(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for sink.keys.Load() < int64(len(keys)) || acked.Load() < int64(len(batches)) {
		if time.Now().After(deadline) {
			b.Fatalf("consumed %d of %d keys, %d of %d batches acknowledged", sink.keys.Load(), len(keys), acked.Load(), len(batches))
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	_ = p.Close(cctx)
	_ = c.Close(cctx)
}
