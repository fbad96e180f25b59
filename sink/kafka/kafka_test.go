package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// rowBatches builds n batches of per rows each; row r feeds the keys
// "u:r" and, for every seventh row, a key that is not UTF-8.
func rowBatches(first, n, per int) ([]*event.Batch, []string) {
	var all []string
	var out []*event.Batch
	row := first
	for i := 0; i < n; i++ {
		b := &event.Batch{DB: "shop", Table: "users", Op: event.OpUpdate, Rows: per,
			Pos: event.Position{File: "bin.000001", Pos: uint32(1000 + row)}, CommitTime: time.Now()}
		for j := 0; j < per; j++ {
			b.Keys = append(b.Keys, fmt.Sprintf("u:%d", row))
			if row%7 == 0 {
				b.Keys = append(b.Keys, fmt.Sprintf("bin:\xff\x00%d", row))
			}
			b.RowIDs = append(b.RowIDs, string(event.AppendRowID(nil, "shop", "users", []byte(fmt.Sprint(row)))))
			b.RowEnds = append(b.RowEnds, len(b.Keys))
			row++
		}
		all = append(all, b.Keys...)
		out = append(out, b)
	}
	return out, all
}

type kafkaTest struct {
	t       *testing.T
	brokers []string
	topic   string
	dlq     string
	redis   *testenv.Redis
	m       *metrics.Metrics
}

func newKafkaTest(t *testing.T, brokers []string, partitions int) *kafkaTest {
	kt := &kafkaTest{t: t, brokers: brokers, topic: "inv", dlq: "inv.dlq", redis: testenv.StartRedis(t), m: metrics.New(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, brokers, nil, TopicSpec{Name: kt.topic, Partitions: partitions, Create: true, Role: "invalidations"},
		TopicSpec{Name: kt.dlq, Partitions: 1, Create: true, Role: "dlq"}); err != nil {
		t.Fatal(err)
	}
	return kt
}

// publisher starts a publisher that acknowledges to acks.
func (kt *kafkaTest) publisher(ctx context.Context, acks event.Acker) *Publisher {
	p := NewPublisher(publisherConfig(kt.brokers, kt.topic), acks, testBackoff, zaptest.NewLogger(kt.t), kt.m)
	go p.Run(ctx) //nolint:errcheck // ends with ctx
	kt.t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(cctx)
	})
	return p
}

// consumerConfig is the test's consumer group, committing every 50ms.
func (kt *kafkaTest) consumerConfig() ConsumerConfig {
	cc := consumerConfig(kt.brokers, kt.topic, kt.dlq)
	cc.CommitInterval = 50 * time.Millisecond
	return cc
}

// consumer starts a consumer with its own deleter; stop stops both the
// graceful way and returns once they are closed.
func (kt *kafkaTest) consumer(ctx context.Context, m *metrics.Metrics) (c *Consumer, stop func()) {
	log := zaptest.NewLogger(kt.t)
	c = NewConsumer(kt.consumerConfig(),
		testBackoff, log, m)
	d, _ := newTestDeleter(kt.t, kt.redis.Addr, sink.DeleterConfig{SecondDelay: 20 * time.Millisecond}, c, m)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = d.Run(ctx) }()
	go func() { defer wg.Done(); _ = c.Run(cctx, d); d.Close() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			_ = c.Close(cctx)
		})
	}
	kt.t.Cleanup(stop)
	return c, stop
}

// committed sums the group's committed offsets over the topic's partitions
// (a partition with none counts 0).
func (kt *kafkaTest) committed(partitions int) int64 {
	cl := &kafkago.Client{Addr: kafkago.TCP(kt.brokers...)}
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	res, err := cl.OffsetFetch(context.Background(), &kafkago.OffsetFetchRequest{GroupID: "g", Topics: map[string][]int{kt.topic: parts}})
	if err != nil {
		kt.t.Fatal(err)
	}
	var sum int64
	for _, p := range res.Topics[kt.topic] {
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum
}

// topicMessages reads every message of topic from the start.
func (kt *kafkaTest) topicMessages(topic string, partitions int) []kafkago.Message {
	var out []kafkago.Message
	for p := 0; p < partitions; p++ {
		out = append(out, testenv.ReadPartition(kt.t, kt.brokers[0], topic, p)...)
	}
	return out
}

func kwaitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sendAll(t *testing.T, ctx context.Context, p *Publisher, batches []*event.Batch, seq *uint64) {
	t.Helper()
	for _, b := range batches {
		*seq++
		b.Seq = *seq
		if err := p.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKafkaEndToEnd(t *testing.T) {
	for _, consumers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d consumers", consumers), func(t *testing.T) {
			const partitions = 4
			kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, partitions)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rdb := kt.redis.Client(t)
			acks := &ackLog{}
			p := kt.publisher(ctx, acks)
			var ms []*metrics.Metrics
			for i := 0; i < consumers; i++ {
				ms = append(ms, metrics.New(nil))
				kt.consumer(ctx, ms[i])
			}
			consumed := func(i int) float64 { return testutil.ToFloat64(ms[i].KafkaConsumed) }
			// Waves of rows until every consumer has had a share: a group
			// rebalance takes a moment after the second member joins.
			var seq uint64
			var keys []string
			row := 0
			for wave := 0; wave < 50; wave++ {
				batches, k := rowBatches(row, 4, 25)
				row += 100
				setKeys(t, rdb, k)
				keys = append(keys, k...)
				sendAll(t, ctx, p, batches, &seq)
				kwaitFor(t, "the wave's keys to be deleted", 30*time.Second, func() bool {
					n, err := rdb.Exists(ctx, k...).Result()
					return err == nil && n == 0
				})
				all := true
				for i := range ms {
					all = all && consumed(i) > 0
				}
				if all && wave >= 3 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			for i := range ms {
				if consumed(i) == 0 {
					t.Errorf("consumer %d of %d got no message: the group did not share the partitions", i, consumers)
				}
			}
			if n, _ := rdb.Exists(ctx, keys...).Result(); n != 0 {
				t.Fatalf("%d of %d keys still in redis", n, len(keys))
			}
			kwaitFor(t, "every batch acknowledged to the tailer", 10*time.Second, func() bool { return acks.count() == int(seq) })
			msgs := kt.topicMessages(kt.topic, partitions)
			kwaitFor(t, "offsets committed up to the end of every partition", 10*time.Second, func() bool {
				return kt.committed(partitions) == int64(len(msgs))
			})
			// One message per row, keyed by the row, every key byte-exact.
			got := map[string]bool{}
			rows := map[string]int{}
			for _, m := range msgs {
				dm, err := kafkamsg.Decode(m.Value)
				if err != nil {
					t.Fatal(err)
				}
				if dm.Row != string(m.Key) {
					t.Errorf("message key %q, row %q", m.Key, dm.Row)
				}
				rows[dm.Row]++
				for _, k := range dm.Keys {
					got[k] = true
				}
			}
			if len(rows) != row || len(msgs) != row {
				t.Errorf("%d messages for %d distinct rows, want one per row (%d)", len(msgs), len(rows), row)
			}
			for _, k := range keys {
				if !got[k] {
					t.Fatalf("key %q not published", k)
				}
			}
		})
	}
}

// The broker refuses writes for a while: nothing is acknowledged to the
// tailer meanwhile, and every row is published once it takes them again.
func TestKafkaPublisherRetriesUntilBrokerAcks(t *testing.T) {
	c := testenv.StartKafkaCluster(t)
	kt := newKafkaTest(t, c.ListenAddrs(), 2)
	var fail atomic.Bool
	var failed atomic.Int64
	fail.Store(true)
	testenv.RefuseProduce(c, &fail, &failed)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := &ackLog{}
	p := kt.publisher(ctx, acks)
	batches, keys := rowBatches(0, 10, 20)
	var seq uint64
	sendAll(t, ctx, p, batches, &seq)
	kwaitFor(t, "several refused produce requests", 20*time.Second, func() bool { return failed.Load() >= 6 })
	if n := acks.count(); n != 0 {
		t.Fatalf("%d batches acknowledged while the broker refused every write", n)
	}
	if got := testutil.ToFloat64(kt.m.KafkaPublishErrors); got == 0 {
		t.Error("publish errors not counted")
	}
	fail.Store(false)
	kwaitFor(t, "all batches acknowledged after the broker recovered", 20*time.Second, func() bool { return acks.count() == len(batches) })
	got := map[string]bool{}
	for _, m := range kt.topicMessages(kt.topic, 2) {
		dm, err := kafkamsg.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range dm.Keys {
			got[k] = true
		}
	}
	for _, k := range keys {
		if !got[k] {
			t.Fatalf("key %q lost while the broker refused writes", k)
		}
	}
	if p.Pending() != 0 {
		t.Errorf("%d messages still pending", p.Pending())
	}
}

// deleteMessage is a valid v1 message deleting key.
func deleteMessage(t *testing.T, key string) []byte {
	t.Helper()
	v, err := kafkamsg.Encode(kafkamsg.Message{Source: "s", DB: "d", Table: "t", Op: event.OpDelete, Row: "d.t:" + key,
		Pos: event.Position{File: "f", Pos: 4}, CommitTime: time.Now(), Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Poison in the middle of a partition goes to the DLQ with its origin and
// reason; the messages after it are still handled and committed.
func TestKafkaPoisonGoesToDLQ(t *testing.T) {
	kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb := kt.redis.Client(t)
	setKeys(t, rdb, []string{"a", "b"})
	good := func(key string) []byte { return deleteMessage(t, key) }
	w := &kafkago.Writer{Addr: kafkago.TCP(kt.brokers...), Topic: kt.topic, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafkago.Message{Value: good("a")}, kafkago.Message{Key: []byte("x"), Value: []byte(`{"v":1,"keys":`)},
		kafkago.Message{Value: []byte(`{"v":0}`)}, kafkago.Message{Value: good("b")}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(nil)
	kt.consumer(ctx, m)
	kwaitFor(t, "keys deleted past the poison", 20*time.Second, func() bool {
		n, err := rdb.Exists(ctx, "a", "b").Result()
		return err == nil && n == 0
	})
	kwaitFor(t, "offset committed past the poison", 10*time.Second, func() bool { return kt.committed(1) == 4 })
	dlq := kt.topicMessages(kt.dlq, 1)
	if len(dlq) != 2 {
		t.Fatalf("%d messages in the DLQ, want 2", len(dlq))
	}
	h := map[string]string{}
	for _, hd := range dlq[0].Headers {
		h[hd.Key] = string(hd.Value)
	}
	if h["cachesync.origin.topic"] != kt.topic || h["cachesync.origin.partition"] != "0" || h["cachesync.origin.offset"] != "1" ||
		!strings.Contains(h["cachesync.error"], "not a v1 message") || string(dlq[0].Value) != `{"v":1,"keys":` || string(dlq[0].Key) != "x" {
		t.Errorf("DLQ message lacks its origin or reason: key %q value %q headers %v", dlq[0].Key, dlq[0].Value, h)
	}
	if got := testutil.ToFloat64(m.KafkaDeadLettered.WithLabelValues("version")); got != 1 {
		t.Errorf("version dead letters = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.KafkaDeadLettered.WithLabelValues("decode")); got != 1 {
		t.Errorf("decode dead letters = %v, want 1", got)
	}
}

// A message of a later format version (an upgraded publisher in a rolling
// upgrade) is not poison: the consumer finishes what came before it, commits
// up to it and no further, dead-letters nothing and stops with an error that
// names the version it needs; an upgraded consumer then reads it.
func TestKafkaNewerVersionIsNeitherDeadLetteredNorCommitted(t *testing.T) {
	kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb := kt.redis.Client(t)
	setKeys(t, rdb, []string{"a", "b"})
	msg := func(key string) []byte { return deleteMessage(t, key) }
	w := &kafkago.Writer{Addr: kafkago.TCP(kt.brokers...), Topic: kt.topic, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafkago.Message{Value: msg("a")}, kafkago.Message{Value: []byte(`{"v":2,"keys":{"new":"shape"}}`)},
		kafkago.Message{Value: msg("b")}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(nil)
	c := NewConsumer(kt.consumerConfig(),
		testBackoff, zaptest.NewLogger(t), m)
	d, _ := newTestDeleter(t, kt.redis.Addr, sink.DeleterConfig{SecondDelay: 20 * time.Millisecond}, c, metrics.New(nil))
	delDone := make(chan error, 1)
	go func() { delDone <- d.Run(ctx) }()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx, d) }()
	var err error
	select {
	case err = <-runErr:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not stop at the newer message")
	}
	d.Close()
	<-delDone
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if cerr := c.Close(cctx); cerr != nil {
		t.Fatal(cerr)
	}
	var ne *kafkamsg.NewerVersionError
	if !errors.As(err, &ne) || ne.Got != 2 || !strings.Contains(err.Error(), "partition 0 offset 1") {
		t.Fatalf("Run = %v, want a *NewerVersionError for version 2 naming partition 0 offset 1", err)
	}
	if n, _ := rdb.Exists(ctx, "a").Result(); n != 0 {
		t.Error("the message before the newer one was not handled")
	}
	if n, _ := rdb.Exists(ctx, "b").Result(); n != 1 {
		t.Error("a message after the newer one was handled: the consumer went past it")
	}
	if got := kt.committed(1); got != 1 {
		t.Errorf("committed offset %d, want 1 (up to the newer message, not past it)", got)
	}
	if dlq := kt.topicMessages(kt.dlq, 1); len(dlq) != 0 {
		t.Errorf("%d messages dead-lettered, want none", len(dlq))
	}
	if got := testutil.ToFloat64(m.KafkaNewerVersion); got != 1 {
		t.Errorf("newer-version counter = %v, want 1", got)
	}
}

// Redis down: the consumer fetches but commits nothing, and dead-letters
// nothing; once Redis is back the keys are deleted and the offsets move.
func TestKafkaConsumerWaitsForRedis(t *testing.T) {
	kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := &ackLog{}
	p := kt.publisher(ctx, acks)
	kt.redis.Stop(t)
	m := metrics.New(nil)
	kt.consumer(ctx, m)
	batches, keys := rowBatches(0, 3, 10)
	var seq uint64
	sendAll(t, ctx, p, batches, &seq)
	kwaitFor(t, "messages fetched", 20*time.Second, func() bool { return testutil.ToFloat64(m.KafkaConsumed) >= 30 })
	kwaitFor(t, "redis errors", 20*time.Second, func() bool { return testutil.ToFloat64(m.RedisErrors.WithLabelValues("first")) >= 2 })
	if got := kt.committed(1); got != 0 {
		t.Fatalf("committed offset %d while redis was down", got)
	}
	kt.redis.Start(t)
	kwaitFor(t, "offsets committed after redis came back", 30*time.Second, func() bool { return kt.committed(1) == 30 })
	if got := testutil.ToFloat64(m.Invalidated.WithLabelValues("first")); got < float64(len(keys)) {
		t.Errorf("%v keys deleted, want %d", got, len(keys))
	}
	if got := testutil.ToFloat64(m.KafkaDeadLettered.WithLabelValues("decode")); got != 0 {
		t.Errorf("%v messages dead-lettered because redis was down", got)
	}
}

// A batch whose keys exceed the record limit is split into several
// messages, none over the limit, and acknowledged once all are in.
func TestKafkaPublisherSplitsLargeBatches(t *testing.T) {
	kt := newKafkaTest(t, []string{testenv.StartKafka(t)}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := &ackLog{}
	const limit = 4096
	pc := publisherConfig(kt.brokers, kt.topic)
	pc.MaxBytes = limit
	p := NewPublisher(pc, acks, testBackoff, zaptest.NewLogger(t), kt.m)
	go p.Run(ctx) //nolint:errcheck
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = p.Close(cctx)
	}()
	b := &event.Batch{Seq: 1, DB: "shop", Table: "orders", Op: event.OpDelete, Rows: 2000,
		Pos: event.Position{File: "bin.000001", Pos: 4}, CommitTime: time.Now()}
	for i := 0; i < 2000; i++ {
		b.Keys = append(b.Keys, fmt.Sprintf("order:%d:lines", i))
	}
	if err := p.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	kwaitFor(t, "the batch acknowledged", 10*time.Second, func() bool { return acks.count() == 1 })
	msgs := kt.topicMessages(kt.topic, 1)
	if len(msgs) < 10 {
		t.Fatalf("%d messages for ~40 KB of keys under a 4 KB limit", len(msgs))
	}
	got := map[string]bool{}
	for _, m := range msgs {
		if n := len(m.Value) + len(m.Key) + kafkamsg.RecordOverhead; n > limit {
			t.Errorf("message of %d bytes (with key and framing) over the %d limit", n, limit)
		}
		dm, err := kafkamsg.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range dm.Keys {
			got[k] = true
		}
	}
	for _, k := range b.Keys {
		if !got[k] {
			t.Fatalf("key %q lost in the split", k)
		}
	}
}
