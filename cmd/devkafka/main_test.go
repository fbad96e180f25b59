package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// syncBuffer is a bytes.Buffer safe to write from the broker and read from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// devBroker is one in-process run of devkafka.
type devBroker struct {
	addr   string
	stderr *syncBuffer
	stop   context.CancelFunc
	code   chan int
}

// startDev runs devkafka with args in-process and waits for the address it
// prints. The broker is stopped at cleanup unless the test stopped it.
func startDev(t *testing.T, args ...string) *devBroker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &devBroker{stderr: &syncBuffer{}, stop: cancel, code: make(chan int, 1)}
	go func() {
		b.code <- run(ctx, nil, args, pw, b.stderr)
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			t.Fatalf("devkafka %v exited without printing its address (code %d); stderr:\n%s", args, <-b.code, b.stderr)
		}
		b.addr = addr
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("devkafka %v printed no address; stderr:\n%s", args, b.stderr)
	}
	t.Cleanup(func() { b.close(t) })
	return b
}

// close stops the broker and checks it exited cleanly; a second call is a no-op.
func (b *devBroker) close(t *testing.T) {
	t.Helper()
	if b.code == nil {
		return
	}
	b.stop()
	select {
	case code := <-b.code:
		if code != 0 {
			t.Errorf("devkafka exited %d, want 0; stderr:\n%s", code, b.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("devkafka did not stop within 30s")
	}
	b.code = nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// safeWriter is how cachesync will publish: every replica acknowledges.
func safeWriter(addr, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  3,
	}
}

func groupReader(addr, topic, group string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr},
		GroupID: group,
		Topic:   topic,
		MaxWait: 100 * time.Millisecond,
	})
}

// fetchAndCommit reads the next message of the group, as the consumer will:
// FetchMessage, then CommitMessages once the work is done.
func fetchAndCommit(ctx context.Context, t *testing.T, addr, topic, group string) kafka.Message {
	t.Helper()
	r := groupReader(addr, topic, group)
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("FetchMessage: %v", err)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatalf("CommitMessages: %v", err)
	}
	return m
}

func committed(ctx context.Context, t *testing.T, addr, topic, group string, partition int) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr)}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			if p.Error != nil {
				t.Fatalf("OffsetFetch %s/%d: %v", topic, partition, p.Error)
			}
			return p.CommittedOffset
		}
	}
	t.Fatalf("OffsetFetch: no answer for %s/%d: %+v", topic, partition, resp)
	return 0
}

func TestKafkaDevBrokerWithKafkaGo(t *testing.T) {
	const topic, group = "cache-invalidation", "cachesync"
	b := startDev(t, "--listen", "127.0.0.1:0", "--partitions", "3", "--topics", topic+",cache-invalidation.dlq")
	if h, _, _ := net.SplitHostPort(b.addr); h != "127.0.0.1" {
		t.Fatalf("listens on %q, want 127.0.0.1", b.addr)
	}
	if !strings.Contains(b.stderr.String(), "NOT FOR PRODUCTION") {
		t.Errorf("startup log does not say NOT FOR PRODUCTION:\n%s", b.stderr)
	}
	ctx := testCtx(t)

	conn, err := kafka.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil || len(parts) != 3 {
		t.Fatalf("ReadPartitions(%s) = %d partitions, %v; want 3", topic, len(parts), err)
	}

	w := safeWriter(b.addr, topic)
	defer w.Close()
	want := kafka.Message{Key: []byte(`shop.users:"42"`), Value: []byte(`{"v":1}`)}
	if err := w.WriteMessages(ctx, want); err != nil {
		t.Fatalf("WriteMessages (RequireAll): %v", err)
	}

	got := fetchAndCommit(ctx, t, b.addr, topic, group)
	if !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("fetched %q=%q, want %q=%q", got.Key, got.Value, want.Key, want.Value)
	}
	if off := committed(ctx, t, b.addr, topic, group, got.Partition); off != got.Offset+1 {
		t.Fatalf("committed offset %d on partition %d, want %d", off, got.Partition, got.Offset+1)
	}
	b.close(t)
	if s := b.stderr.String(); !strings.Contains(s, "stopped") {
		t.Errorf("no stop log line:\n%s", s)
	}
}

// The topic handling issue 3 asks for goes through kafka-go's CreateTopics;
// auto-creation is off unless asked for.
func TestKafkaDevBrokerTopics(t *testing.T) {
	ctx := testCtx(t)
	t.Run("CreateTopics", func(t *testing.T) {
		b := startDev(t, "--listen", "127.0.0.1:0")
		c := &kafka.Client{Addr: kafka.TCP(b.addr)}
		resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
			{Topic: "made", NumPartitions: 4, ReplicationFactor: 1},
		}})
		if err != nil || resp.Errors["made"] != nil {
			t.Fatalf("CreateTopics: %v %v", err, resp.Errors)
		}
		resp, err = c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
			{Topic: "made", NumPartitions: 4, ReplicationFactor: 1},
		}})
		if err != nil || !errors.Is(resp.Errors["made"], kafka.TopicAlreadyExists) {
			t.Fatalf("second CreateTopics: %v %v, want TopicAlreadyExists", err, resp.Errors)
		}
	})
	t.Run("NoAutoCreate", func(t *testing.T) {
		b := startDev(t, "--listen", "127.0.0.1:0")
		w := safeWriter(b.addr, "missing")
		w.AllowAutoTopicCreation = true
		w.MaxAttempts = 1
		defer w.Close()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := w.WriteMessages(wctx, kafka.Message{Value: []byte("x")})
		if !errors.Is(err, kafka.UnknownTopicOrPartition) {
			t.Fatalf("write to a missing topic: %v, want UnknownTopicOrPartition", err)
		}
	})
	t.Run("AutoCreate", func(t *testing.T) {
		b := startDev(t, "--listen", "127.0.0.1:0", "--auto-create-topics", "--partitions", "2")
		w := safeWriter(b.addr, "auto")
		w.AllowAutoTopicCreation = true
		defer w.Close()
		if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")}); err != nil {
			t.Fatalf("write with auto-creation: %v", err)
		}
	})
}

// With --data-dir, messages and committed offsets survive a restart on the
// same address: what the broker-restart test of issue 3 needs.
func TestKafkaDevBrokerDataDirRestart(t *testing.T) {
	const topic, group = "t", "g"
	dir := t.TempDir()
	ctx := testCtx(t)
	b := startDev(t, "--listen", "127.0.0.1:0", "--data-dir", dir, "--topics", topic)
	w := safeWriter(b.addr, topic)
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if m := fetchAndCommit(ctx, t, b.addr, topic, group); string(m.Value) != "one" {
		t.Fatalf("first run fetched %q", m.Value)
	}
	b.close(t)

	b2 := startDev(t, "--listen", b.addr, "--data-dir", dir, "--topics", topic)
	w = safeWriter(b2.addr, topic)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("two")}); err != nil {
		t.Fatal(err)
	}
	if m := fetchAndCommit(ctx, t, b2.addr, topic, group); string(m.Value) != "two" || m.Offset != 1 {
		t.Fatalf("after restart the group fetched %q at offset %d, want \"two\" at 1 (the commit was lost?)", m.Value, m.Offset)
	}
}

func TestKafkaDevBrokerUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, "NOT FOR PRODUCTION"},
		{"all interfaces", []string{"--listen", "0.0.0.0:9092"}, 2, "will not listen on every interface"},
		{"no host", []string{"--listen", ":9092"}, 2, "no host"},
		{"no port", []string{"--listen", "127.0.0.1"}, 2, "host:port"},
		{"partitions", []string{"--partitions", "0"}, 2, "--partitions 0"},
		{"topic name", []string{"--topics", "a,b c"}, 2, `topic "b c"`},
		{"log level", []string{"--log-level", "loud"}, 2, "--log-level"},
		{"argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"address in use", []string{"--listen", busy.Addr().String()}, 1, "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut syncBuffer
			code := run(context.Background(), nil, tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("run(%q) = %d, stderr:\n%s\nwant %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
			}
		})
	}
}
