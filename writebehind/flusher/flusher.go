// Package flusher is write-behind's MySQL side: it reads a rule's Redis
// stream, which the writebehind scripts fill as the application writes the
// cache, and applies the writes to the rule's table in batched transactions,
// each applied exactly once across crashes and takeovers (the offsets row of
// writebehind.OffsetsTable, a lease and a fencing token per stream). Poison
// entries go to a dead-letter stream with their reason, and their owned cache
// keys are deleted now and again after the second delay. It runs opposite to
// invalidation (binlog → Redis, packages canal and sink) and depends on
// neither.
package flusher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

// Config shapes one stream's flusher; each zero value has a default.
type Config struct {
	Rule        *config.Rule  // the write-behind rule; its Stream and table
	Batch       int           // entries per transaction; default the rule's batch (500)
	Interval    time.Duration // longest a batch waits to fill; default the rule's interval (100ms)
	Group       string        // consumer group; default "cachesync"
	Consumer    string        // consumer name; default host-pid
	DeadLetter  string        // poison entries go here; default "<stream>:dead"
	LeaseTTL    time.Duration // one active flusher per stream holds the lease; default 10s
	BacklogWarn int64         // warn when more entries than this wait; default 100000
	// SecondDelay repeats the deletion of a dead-lettered entry's owned keys
	// this much later (delete.second_delay); 0: deleted once.
	SecondDelay time.Duration
	// OnFailure, if set, hears every failed attempt (retried); OnSuccess
	// every attempt that succeeded after retries or not: together they say
	// how long the flusher has been failing (health).
	OnFailure func(err error)
	OnSuccess func()
}

func (c Config) stream() string { return c.Rule.WriteBehind.Stream }
func (c Config) batch() int {
	if c.Batch > 0 {
		return c.Batch
	}
	return c.Rule.WriteBehind.BatchSize()
}

func (c Config) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return c.Rule.WriteBehind.FlushInterval()
}

func (c Config) group() string { return orText(c.Group, "cachesync") }
func (c Config) deadLetter() string {
	return orText(c.DeadLetter, c.stream()+":dead")
}

func (c Config) consumer() string {
	if c.Consumer != "" {
		return c.Consumer
	}
	host, _ := os.Hostname()
	return orText(host, "cachesync") + "-" + strconv.Itoa(os.Getpid())
}

func (c Config) leaseTTL() time.Duration {
	if c.LeaseTTL > 0 {
		return c.LeaseTTL
	}
	return 10 * time.Second
}

func (c Config) backlogWarn() int64 {
	if c.BacklogWarn > 0 {
		return c.BacklogWarn
	}
	return 100000
}

func orText(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Dialer opens a MySQL connection for the flusher.
type Dialer func(ctx context.Context) (*client.Conn, error)

// Flusher persists one write-behind stream to MySQL: it reads the stream in
// a consumer group, coalesces a batch by primary key, applies it in one
// transaction that first records the batch's last entry ID in the offsets
// table (writebehind.OffsetsTable), and acknowledges the entries only after
// COMMIT. Re-delivered entries at or below the recorded ID are acknowledged
// without being applied again, so each write is applied exactly once across
// crashes. One flusher per stream is active at a time (a lease in Redis);
// others wait to take over.
type Flusher struct {
	rdb      redis.UniversalClient
	dial     Dialer
	cfg      Config
	consumer string
	backoff  retry.Backoff
	log      *zap.Logger
	m        streamMetrics
	db       *flushDB
	token    uint64 // the fencing token of the lease held (fence.go)

	lastReport time.Time
	lastWarn   time.Time
	hooks      testHooks
	later      sync.WaitGroup // second deletes of dead-lettered entries' keys
}

// testHooks let tests stop the flusher at the worst moments, as a crash
// would: an error from a hook ends Run at once, with nothing acknowledged
// and, before COMMIT, the transaction left to the server to roll back.
type testHooks struct {
	beforeCommit func(entries int) error
	afterCommit  func(entries int) error
	// The ones below only watch or hold the flusher, as a paused process
	// would be held: before each XREADGROUP, before each lease renewal,
	// around each batch's transaction.
	beforeRead     func()
	beforeRenew    func()
	beforeTransact func()
	afterTransact  func(err error)
	failRenew      func() bool // true: the renewal fails, as with Redis unreachable
	standDown      func()      // the lease could not be renewed in time
}

func callHook(h func()) {
	if h != nil {
		h()
	}
}

type streamMetrics struct {
	entries, batches, skipped, dead prometheus.Counter
	upserts, deletes                prometheus.Counter
	mysqlErrs, redisErrs            prometheus.Counter
	flushTime                       prometheus.Observer
	pending, oldest                 prometheus.Gauge
}

func newStreamMetrics(m *metrics.Metrics, stream string) streamMetrics {
	return streamMetrics{
		entries: m.WBEntries.WithLabelValues(stream), batches: m.WBBatches.WithLabelValues(stream),
		skipped: m.WBSkipped.WithLabelValues(stream), dead: m.WBDeadLettered.WithLabelValues(stream),
		upserts: m.WBRows.WithLabelValues(stream, "upsert"), deletes: m.WBRows.WithLabelValues(stream, "delete"),
		mysqlErrs: m.WBErrors.WithLabelValues(stream, "mysql"), redisErrs: m.WBErrors.WithLabelValues(stream, "redis"),
		flushTime: m.WBFlushSeconds.WithLabelValues(stream),
		pending:   m.WBPending.WithLabelValues(stream), oldest: m.WBOldestAge.WithLabelValues(stream),
	}
}

// New returns a flusher for cfg.Rule's stream; call Run.
func New(rdb redis.UniversalClient, dial Dialer, cfg Config, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) *Flusher {
	log = log.With(zap.String("stream", cfg.stream()))
	return &Flusher{rdb: rdb, dial: dial, cfg: cfg, consumer: cfg.consumer(), backoff: backoff, log: log,
		m: newStreamMetrics(m, cfg.stream()), db: newFlushDB(dial, cfg.Rule, log)}
}

var errLeaseLost = errors.New("flusher lease lost to another flusher")

// Run flushes until ctx ends (finishing the batch in hand) or a hook stops
// it. MySQL or Redis being down is waited out with backoff; entries stay
// pending meanwhile and nothing is lost.
func (f *Flusher) Run(ctx context.Context) error {
	defer f.later.Wait()
	defer f.db.close()
	if err := f.retry(ctx, "redis", "create consumer group", f.ensureGroup); err != nil {
		return ignoreCanceled(err)
	}
	if err := f.retry(ctx, "mysql", "create "+writebehind.OffsetsTable, f.db.ensureOffsetsTable); err != nil {
		return ignoreCanceled(err)
	}
	for ctx.Err() == nil {
		since, err := f.acquireLease(ctx)
		if err != nil {
			return ignoreCanceled(err)
		}
		lctx, cancel := context.WithCancelCause(ctx)
		go f.keepLease(lctx, cancel, since)
		// Fence the earlier holders out before reading anything.
		err = f.retry(lctx, "mysql", "recording the lease token in "+writebehind.OffsetsTable, func(ctx context.Context) error {
			return f.db.fence(ctx, f.cfg.stream(), f.token)
		})
		if err == nil {
			err = f.serve(lctx)
		}
		lost := errors.Is(context.Cause(lctx), errLeaseLost) || errors.Is(err, errFenced)
		cancel(nil)
		if err != nil && !lost && !errors.Is(err, context.Canceled) {
			return err // a hook's simulated crash: keep the lease, like a dead process
		}
		f.releaseLease()
		if lost {
			f.log.Warn("flusher lease lost (Redis unreachable for a lease period, or another flusher took over): standing by", zap.Error(err))
		}
		var fe *fencedError
		if errors.As(err, &fe) {
			f.raiseTokens(ctx, fe.stored)
		}
	}
	return nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// serve claims every pending entry (this flusher holds the lease, so their
// consumers are gone), applies them in ID order, then follows new entries.
func (f *Flusher) serve(ctx context.Context) error {
	f.log.Info("flusher active: applying pending entries first", zap.String("consumer", f.consumer))
	if err := f.retry(ctx, "redis", "claim pending entries", f.claimAll); err != nil {
		return err
	}
	for from := "0"; ; {
		msgs, err := f.readRetry(ctx, from, -1)
		if err != nil || len(msgs) == 0 {
			if err != nil {
				return err
			}
			break
		}
		if err := f.processBatch(ctx, msgs); err != nil {
			return err
		}
		from = msgs[len(msgs)-1].ID
	}
	for ctx.Err() == nil {
		msgs, err := f.readNew(ctx)
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			if err := f.processBatch(ctx, msgs); err != nil {
				return err
			}
		}
		f.reportBacklog(ctx)
	}
	return ctx.Err()
}

func (f *Flusher) ensureGroup(ctx context.Context) error {
	err := f.rdb.XGroupCreateMkStream(ctx, f.cfg.stream(), f.cfg.group(), "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on stream %s: %w", f.cfg.group(), f.cfg.stream(), err)
	}
	return nil
}

func (f *Flusher) claimAll(ctx context.Context) error {
	for start := "0-0"; ; {
		ids, next, err := f.rdb.XAutoClaimJustID(ctx, &redis.XAutoClaimArgs{Stream: f.cfg.stream(), Group: f.cfg.group(),
			Consumer: f.consumer, Start: start, Count: 1000}).Result()
		if err != nil {
			return fmt.Errorf("XAUTOCLAIM on stream %s from %s: %w", f.cfg.stream(), start, err)
		}
		if len(ids) > 0 {
			f.log.Info("claimed pending entries of earlier flushers", zap.Int("entries", len(ids)))
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// readNew waits up to the interval for entries, then keeps reading until
// the batch is full or the interval since the first entry has passed.
func (f *Flusher) readNew(ctx context.Context) ([]redis.XMessage, error) {
	msgs, err := f.readRetry(ctx, ">", f.cfg.interval())
	if err != nil || len(msgs) == 0 {
		return msgs, err
	}
	deadline := time.Now().Add(f.cfg.interval())
	for len(msgs) < f.cfg.batch() {
		wait := time.Until(deadline)
		if wait < time.Millisecond {
			break
		}
		more, err := f.read(ctx, ">", f.cfg.batch()-len(msgs), wait)
		if err != nil || len(more) == 0 {
			break // what we have is flushed; a Redis error shows again on the next read
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

func (f *Flusher) readRetry(ctx context.Context, from string, block time.Duration) ([]redis.XMessage, error) {
	var msgs []redis.XMessage
	err := f.retry(ctx, "redis", "read stream", func(ctx context.Context) error {
		var err error
		msgs, err = f.read(ctx, from, f.cfg.batch(), block)
		return err
	})
	return msgs, err
}

// read is one XREADGROUP; block < 0 does not block (block 0 would block forever).
func (f *Flusher) read(ctx context.Context, from string, count int, block time.Duration) ([]redis.XMessage, error) {
	callHook(f.hooks.beforeRead)
	res, err := f.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: f.cfg.group(), Consumer: f.consumer,
		Streams: []string{f.cfg.stream(), from}, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("XREADGROUP stream %s from %s: %w", f.cfg.stream(), from, err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// retry runs op with the backoff until it succeeds or ctx ends, counting and
// logging failures.
func (f *Flusher) retry(ctx context.Context, stage, what string, op func(context.Context) error) error {
	errs := f.m.redisErrs
	if stage == "mysql" {
		errs = f.m.mysqlErrs
	}
	err := f.backoff.Do(ctx, op, func(attempt int, err error, wait time.Duration) {
		errs.Inc()
		if f.cfg.OnFailure != nil {
			f.cfg.OnFailure(err)
		}
		if attempt == 0 || attempt%20 == 0 {
			f.log.Warn(what+" failed; retrying (entries stay pending, nothing is lost)",
				zap.String("stage", stage), zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
		}
	})
	if err == nil && f.cfg.OnSuccess != nil {
		f.cfg.OnSuccess()
	}
	return err
}
