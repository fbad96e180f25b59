package sink

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

type ackLog struct {
	mu   sync.Mutex
	seqs []uint64
	at   map[uint64]time.Time
}

func (a *ackLog) Done(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seqs = append(a.seqs, seq)
	if a.at == nil {
		a.at = map[uint64]time.Time{}
	}
	a.at[seq] = time.Now()
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seqs)
}

// fromFile is cfg with what cmd fills from a config file that leaves
// delete.batch_keys and transport.queue_size unset; the rest as the test
// wrote it (SecondDelay 0: no second delete).
func fromFile(cfg DeleterConfig) DeleterConfig {
	def := config.Default()
	if cfg.BatchKeys == 0 {
		cfg.BatchKeys = def.Delete.BatchKeys
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = def.Transport.QueueSize
	}
	if cfg.FirstInFlight == 0 {
		cfg.FirstInFlight = def.Redis.FirstDeletesInFlight()
	}
	return cfg
}

func newTestDeleter(t testing.TB, addr string, cfg DeleterConfig, acks event.Acker) (*Deleter, redis.UniversalClient) {
	rc := config.Default().Redis
	rc.Addrs = []string{addr}
	rc.DialTimeout, rc.ReadTimeout = config.Duration(200*time.Millisecond), config.Duration(200*time.Millisecond)
	rdb := newRedis(t, rc)
	t.Cleanup(func() { rdb.Close() })
	d := NewDeleter(rdb, fromFile(cfg), acks, retry.Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}, zaptest.NewLogger(t), metrics.New(nil))
	return d, rdb
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

func TestDeleterDeletesTwiceThenAcks(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: 300 * time.Millisecond, BatchKeys: 7}, acks)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	var all []string
	sent := map[uint64]time.Time{}
	for i := uint64(1); i <= 20; i++ {
		keys := []string{fmt.Sprintf("k:%d:a", i), fmt.Sprintf("k:%d:b", i), "bin:\xff\x00" + fmt.Sprint(i)}
		all = append(all, keys...)
		setKeys(t, c, keys)
		sent[i] = time.Now()
		if err := d.Send(ctx, &event.Batch{Seq: i, Keys: keys, CommitTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// First delete: every key gone soon, but nothing acknowledged before the second delete.
	waitFor(t, 5*time.Second, func() bool { return c.Exists(ctx, all...).Val() == 0 })
	// Re-create the keys, as a racing reader filling the cache with a stale row would.
	setKeys(t, c, all)
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, all...).Val(); n != 0 {
		t.Fatalf("%d keys survived the second delete", n)
	}
	if acks.count() != 20 {
		t.Fatalf("acked %d batches, want 20", acks.count())
	}
	for seq, at := range acks.at {
		if at.Sub(sent[seq]) < 300*time.Millisecond {
			t.Errorf("batch %d acknowledged %v after sending, before its second delete was due", seq, at.Sub(sent[seq]))
		}
	}
}

func TestDeleterWaitsOutRedisOutage(t *testing.T) {
	r := testenv.StartRedis(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{}, acks)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	// The keys are saved to disk, so the restarted server holds them before
	// it takes any connection: setting them after the restart raced with
	// the deleter's own retry, which could delete first.
	keys := []string{"user:1", "user:2"}
	before := r.Client(t)
	setKeys(t, before, keys)
	if err := before.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop(t)
	if err := d.Send(ctx, &event.Batch{Seq: 1, Keys: keys, CommitTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Wait for the deleter's own retry loop, not a fixed time: go-redis
	// retries a failed dial on its own first, and an outage shorter than
	// those retries never reaches the loop this test is about.
	failed := d.m.RedisErrors.WithLabelValues("first")
	waitFor(t, 30*time.Second, func() bool { return testutil.ToFloat64(failed) >= 3 || acks.count() > 0 })
	if acks.count() != 0 {
		t.Fatal("a batch was acknowledged while Redis was down")
	}
	if n := testutil.ToFloat64(d.m.Invalidated.WithLabelValues("first")); n != 0 {
		t.Fatalf("%v keys counted as deleted while Redis was down", n)
	}
	r.Start(t)
	c := r.Client(t)
	waitFor(t, 10*time.Second, func() bool { return acks.count() == 1 })
	if n := c.Exists(ctx, keys...).Val(); n != 0 {
		t.Fatalf("%d keys survived", n)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDeleterHardStopLeavesWorkUnacked(t *testing.T) {
	r := testenv.StartRedis(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: time.Hour}, acks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	if err := d.Send(ctx, &event.Batch{Seq: 1, Keys: []string{"x"}, CommitTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("hard stop returned no error")
	}
	if acks.count() != 0 {
		t.Fatal("batch acknowledged without its second delete")
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runClusterDeleter starts a three-master Redis Cluster and a deleter on
// it (second delete after 50 ms); done receives Run's result, bounded by a
// minute, ctx ending with the test.
func runClusterDeleter(t *testing.T) (*redis.ClusterClient, *Deleter, *ackLog, chan error) {
	t.Helper()
	cl := testenv.StartRedisCluster(t, 3)
	rc := config.Default().Redis
	rc.Addrs = cl.Addrs
	rdb := newRedis(t, rc)
	t.Cleanup(func() { rdb.Close() })
	acks := &ackLog{}
	d := NewDeleter(rdb, fromFile(DeleterConfig{SecondDelay: 50 * time.Millisecond}), acks, retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}, zaptest.NewLogger(t), metrics.New(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return cl.Client(t), d, acks, done
}

// A cluster must get single-key commands routed per slot: a multi-key
// UNLINK across slots would fail with CROSSSLOT and never succeed.
func TestDeleterRedisCluster(t *testing.T) {
	c, d, acks, done := runClusterDeleter(t)
	ctx := context.Background()
	var keys []string
	for i := 0; i < 300; i++ {
		keys = append(keys, fmt.Sprintf("user:%d", i), fmt.Sprintf("user:{%d}:orders", i))
	}
	for _, k := range keys {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Send(ctx, &event.Batch{Seq: 1, Keys: keys, CommitTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n := c.Exists(ctx, k).Val(); n != 0 {
			t.Fatalf("%q survived in the cluster", k)
		}
	}
	if acks.count() != 1 {
		t.Fatalf("acks = %d", acks.count())
	}
}

// The in-flight key budget is what bounds memory: once it is used up by keys
// waiting for their second delete, Send blocks (holding the tailer back).
func TestDeleterKeyBudgetBlocksSend(t *testing.T) {
	r := testenv.StartRedis(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: time.Hour, MaxKeysInFlight: 10}, acks)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	if err := d.Send(ctx, &event.Batch{Seq: 1, Keys: []string{"a", "b", "c", "d", "e", "f"}}); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if err := d.Send(short, &event.Batch{Seq: 2, Keys: []string{"g", "h", "i", "j", "k"}}); err == nil {
		t.Fatal("Send went through with 11 keys in flight and a budget of 10")
	}
	// A batch larger than the whole budget still goes through once the rest is done.
	huge := make([]string, 50)
	for i := range huge {
		huge[i] = fmt.Sprint("big:", i)
	}
	d2, _ := newTestDeleter(t, r.Addr, DeleterConfig{MaxKeysInFlight: 10}, acks)
	go func() { _ = d2.Run(ctx) }()
	if err := d2.Send(ctx, &event.Batch{Seq: 3, Keys: huge}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return acks.count() == 1 })
}

func TestCheckRedis(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Password: "s3cret-pw"})
	rc := config.Default().Redis
	rc.Addrs = []string{r.Addr}
	ctx := context.Background()

	rc.Password = "wrong-pw-9f1"
	rdb := newRedis(t, rc)
	defer rdb.Close()
	err := CheckRedis(ctx, rdb, rc)
	if err == nil || errors.Is(err, ErrRedisUnreachable) || !strings.Contains(err.Error(), "redis.password") || strings.Contains(err.Error(), "wrong-pw-9f1") {
		t.Fatalf("wrong password: %v", err)
	}

	rc.Password = "s3cret-pw"
	good := newRedis(t, rc)
	defer good.Close()
	if err := CheckRedis(ctx, good, rc); err != nil {
		t.Fatalf("right password: %v", err)
	}

	r.Stop(t)
	if err := CheckRedis(ctx, good, rc); !errors.Is(err, ErrRedisUnreachable) {
		t.Fatalf("stopped redis: %v, want ErrRedisUnreachable", err)
	}
}
