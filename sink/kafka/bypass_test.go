package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/sink"
)

// A change Kafka can never carry goes to the bypass: its keys are deleted
// from Redis and its batch acknowledged, whether the split refuses it (the
// publisher's own limit) or the broker does (MESSAGE_TOO_LARGE, here kfake's
// default message.max.bytes of about 1 MiB below max 8 MiB).
func TestPublisherBypassesWhatKafkaCannotCarry(t *testing.T) {
	for reason, maxBytes := range map[string]int{"split": config.Default().Transport.Kafka.MaxMessageBytes, "broker": 8 << 20} {
		t.Run(reason, func(t *testing.T) {
			kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			acked := make(chan uint64, 10)
			acker := event.AckerFunc(func(seq uint64) { acked <- seq })
			pc := publisherConfig(kt.brokers, kt.topic)
			pc.MaxBytes = maxBytes
			p := NewPublisher(pc, acker, testBackoff, zaptest.NewLogger(t), kt.m)
			rdb := kt.redis.Client(t)
			del := sink.NewDeleter(rdb, fromFile(sink.DeleterConfig{SecondDelay: 10 * time.Millisecond}), event.AckerFunc(p.BypassDone), testBackoff, zaptest.NewLogger(t), kt.m)
			p.SetBypass(del)
			go del.Run(ctx) //nolint:errcheck // ends with ctx
			go p.Run(ctx)   //nolint:errcheck // ends with ctx

			big := "big:" + strings.Repeat("x", 2<<20)
			for _, k := range []string{big, "small:1", "small:2"} {
				if err := rdb.Set(ctx, k, "cached", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			oversized := &event.Batch{Seq: 1, DB: "shop", Table: "docs", Op: event.OpInsert, Rows: 1, Keys: []string{"small:1", big},
				Pos: event.Position{File: "bin.000001", Pos: 100}, CommitTime: time.Now()}
			normal := &event.Batch{Seq: 2, DB: "shop", Table: "docs", Op: event.OpInsert, Rows: 1, Keys: []string{"small:2"},
				Pos: event.Position{File: "bin.000001", Pos: 200}, CommitTime: time.Now()}
			for _, b := range []*event.Batch{oversized, normal} {
				if err := p.Send(ctx, b); err != nil {
					t.Fatalf("send %d: %v", b.Seq, err)
				}
			}
			got := map[uint64]bool{}
			for len(got) < 2 {
				select {
				case seq := <-acked:
					got[seq] = true
				case <-time.After(20 * time.Second):
					t.Fatalf("acknowledged only %v", got)
				}
			}
			if n, err := rdb.Exists(ctx, big, "small:1").Result(); err != nil || n != 0 {
				t.Errorf("%d of the bypassed keys are still cached (%v)", n, err)
			}
			if n := testutil.ToFloat64(kt.m.KafkaBypassed.WithLabelValues(reason)); n != 1 {
				t.Errorf("cachesync_kafka_bypassed_changes_total{reason=%q} = %v, want 1", reason, n)
			}
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			if err := p.Close(cctx); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}
