package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

// DeleterConfig shapes the deleter. The fields the config file sets
// (delete.*, transport.queue_size) take their defaults from config.Default:
// cmd fills them from the loaded config, and zero means zero here. The two
// bounds no file sets have their defaults below.
type DeleterConfig struct {
	SecondDelay time.Duration // 0: no second delete
	UseDel      bool          // DEL instead of UNLINK
	BatchKeys   int           // keys per round trip (delete.batch_keys)
	// FirstInFlight is how many first-delete round trips may be in flight
	// at once (config.RedisConfig.FirstDeletesInFlight); default 1.
	FirstInFlight int
	QueueSize     int // batches waiting for the first delete (transport.queue_size)
	SecondQueue   int // groups waiting for the second delete; default 4096
	// MaxKeysInFlight bounds the keys queued or waiting for their second
	// delete, which is what bounds memory: sustaining R keys/s with a second
	// delay D needs R×D in flight. Default 262144 (~13 MiB of typical keys;
	// 524,288 keys/s at a 500ms second delay).
	MaxKeysInFlight int
	// Replicas, when set, times the second delete instead of SecondDelay
	// (delete.second: replicas): it goes as soon as every replica has
	// applied the batch's transaction, or ReplicaMaxWait after the first
	// delete, whichever is first.
	Replicas       ReplicaWaiter
	ReplicaMaxWait time.Duration
	// SkipSecondAge > 0: a group whose every change committed at least this
	// long before its first delete is done gets no second delete (see
	// config.DeleteConfig.SecondSkipAge). Not used with Replicas.
	SkipSecondAge time.Duration
}

func (c DeleterConfig) secondQueue() int { return orDefault(c.SecondQueue, 4096) }
func (c DeleterConfig) maxKeys() int     { return orDefault(c.MaxKeysInFlight, 262144) }
func (c DeleterConfig) firstInFlight() int {
	return orDefault(c.FirstInFlight, 1)
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Deleter is the direct transport and the Redis deleting stage in one: Send
// queues a batch (blocking when full), Run deletes every key at once and
// again SecondDelay later, retrying until Redis confirms, then acknowledges
// the batch. Redis down means wait: nothing is dropped and nothing is acked.
type Deleter struct {
	rdb     redis.UniversalClient
	cfg     DeleterConfig
	acker   event.Acker
	backoff retry.Backoff
	log     *zap.Logger
	m       *metrics.Metrics
	now     func() time.Time

	boundWarned map[string]time.Time // replica → last warning of a second delete at the bound (runSecond's)

	in          chan *event.Batch
	second      chan group
	closeOnce   sync.Once
	keys        *semaphore.Weighted // keys in flight, released on ack
	guard       *redis.Script       // writebehind.GuardScript
	guardLoaded atomic.Bool         // SCRIPT LOAD done (on every master of a cluster)
	guardDenied atomic.Bool         // the Redis user may not run scripts: guarded keys deleted plainly
	firstOut    atomic.Int64        // trips handed to finishFirst and not finished
	wt          *redis.Script       // WriteThroughScript
	wtLoaded    atomic.Bool
	// failedAt is when a Redis round trip last failed (unix ns; 0: never):
	// a change that committed before it may be late because Redis was
	// away, and so may the application's fills (see secondNotNeeded).
	failedAt atomic.Int64
}

// group is batches deleted together in one round trip.
type group struct {
	batches []*event.Batch
	due     time.Time
	first   time.Time // when the first delete was done
}

// NewDeleter returns a deleter; call Run, then Send, then Close to drain.
func NewDeleter(rdb redis.UniversalClient, cfg DeleterConfig, acker event.Acker, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) *Deleter {
	return &Deleter{rdb: rdb, cfg: cfg, acker: acker, backoff: backoff, log: log, m: m, now: time.Now,
		in: make(chan *event.Batch, cfg.QueueSize), second: make(chan group, cfg.secondQueue()),
		keys: semaphore.NewWeighted(int64(cfg.maxKeys())), guard: redis.NewScript(writebehind.GuardScript()),
		boundWarned: map[string]time.Time{}, wt: redis.NewScript(writeThroughSource)}
}

// weight is what a batch holds of the in-flight budget; a batch larger than
// the whole budget takes all of it rather than blocking forever.
func (d *Deleter) weight(b *event.Batch) int64 {
	return int64(min(len(b.Keys)+len(b.Sets), d.cfg.maxKeys()))
}

// Send queues b for deletion, blocking while the queue or the in-flight key
// budget is full.
func (d *Deleter) Send(ctx context.Context, b *event.Batch) error {
	if err := d.keys.Acquire(ctx, d.weight(b)); err != nil {
		return err
	}
	select {
	case d.in <- b:
		return nil
	case <-ctx.Done():
		d.keys.Release(d.weight(b))
		return ctx.Err()
	}
}

// Close says no more batches will come; Run returns once all queued work,
// second deletes included, is done.
func (d *Deleter) Close() { d.closeOnce.Do(func() { close(d.in) }) }

// Run deletes until Close has been called and everything is drained, or ctx
// ends (a hard stop: whatever is unfinished stays unacknowledged).
func (d *Deleter) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- d.runSecond(ctx) }()
	err := d.runFirst(ctx)
	close(d.second)
	return errors.Join(err, <-errc)
}

func (d *Deleter) runSecond(ctx context.Context) error {
	for g := range d.second {
		if err := d.waitSecond(ctx, g); err != nil {
			return err
		}
		// Merge groups that are already due into one round trip.
		keys := countKeys(g)
	merge:
		for keys < d.cfg.BatchKeys {
			select {
			case ng, ok := <-d.second:
				if !ok {
					break merge
				}
				if !d.secondDue(ng) {
					if err := d.finishSecond(ctx, g); err != nil {
						return err
					}
					g = ng
					if err := d.waitSecond(ctx, g); err != nil {
						return err
					}
					keys = countKeys(g)
					continue
				}
				d.mergedSecond(ng)
				g.batches = append(g.batches, ng.batches...)
				keys += countKeys(ng)
			default:
				break merge
			}
		}
		if err := d.finishSecond(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deleter) finishSecond(ctx context.Context, g group) error {
	if err := d.deleteGroup(ctx, "second", g); err != nil {
		return err
	}
	d.ack(g)
	return nil
}

func (d *Deleter) ack(g group) {
	for _, b := range g.batches {
		d.acker.Done(b.Seq)
		d.keys.Release(d.weight(b))
	}
}

func countKeys(g group) int {
	n := 0
	for _, b := range g.batches {
		n += len(b.Keys) + len(b.Sets)
	}
	return n
}

// deleteGroup deletes every key of g, retrying until Redis confirms or ctx ends.
func (d *Deleter) deleteGroup(ctx context.Context, phase string, g group) error {
	errs, retries := d.m.RedisErrors.WithLabelValues(phase), d.m.RedisRetries.WithLabelValues(phase)
	first := g.batches[0]
	var counts guardCounts
	err := d.backoff.Do(ctx, func(ctx context.Context) (err error) {
		counts, err = d.deleteOnce(ctx, g)
		return err
	},
		func(attempt int, err error, wait time.Duration) {
			d.failedAt.Store(d.now().UnixNano())
			errs.Inc()
			retries.Inc()
			if attempt == 0 || attempt%20 == 0 {
				d.log.Warn("redis delete failed; retrying (the checkpoint stays put meanwhile)",
					zap.String("phase", phase), zap.String("table", first.DB+"."+first.Table), zap.Int("keys", countKeys(g)),
					zap.Stringer("position", first.Pos), zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
			}
		})
	if err != nil {
		return fmt.Errorf("%s delete of %d keys from %s.%s at %s: %w", phase, countKeys(g), first.DB, first.Table, first.Pos, err)
	}
	d.m.Invalidated.WithLabelValues(phase).Add(float64(countKeys(g)))
	if counts.kept+counts.deleted > 0 {
		d.m.WBGuardedDeletes.WithLabelValues(phase, "kept").Add(float64(counts.kept))
		d.m.WBGuardedDeletes.WithLabelValues(phase, "deleted").Add(float64(counts.deleted))
	}
	return nil
}

// multiKeyChunk caps keys per UNLINK command on a single node; in a cluster
// or a ring every command carries one key so go-redis can route it to its
// slot or shard.
const multiKeyChunk = 128

// deleteOnce deletes every key of g in one pipelined round trip: the
// guarded keys first, each with the guard script (see guard.go), then the
// plain keys. If Redis has lost the script (a restart, SCRIPT FLUSH), it is
// loaded and the round trip repeated; deletes are idempotent.
func (d *Deleter) deleteOnce(ctx context.Context, g group) (guardCounts, error) {
	if !d.guardLoaded.Load() && !d.guardDenied.Load() && hasGuarded(g) {
		// Loaded before the first use, so the first round trip does not
		// delete the plain keys while its guarded ones meet NOSCRIPT.
		if err := d.loadGuard(ctx); err != nil && !d.denyGuard(err) {
			return guardCounts{}, err
		}
	}
	if !d.wtLoaded.Load() && hasSets(g) {
		if err := d.loadWriteThrough(ctx); err != nil {
			return guardCounts{}, err
		}
	}
	counts, err := d.pipelineOnce(ctx, g)
	if errors.Is(err, errWriteThroughNoScript) {
		if err := d.loadWriteThrough(ctx); err != nil {
			return counts, err
		}
		counts, err = d.pipelineOnce(ctx, g)
	}
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err := d.loadGuard(ctx); err != nil && !d.denyGuard(err) {
			return counts, err
		}
		counts, err = d.pipelineOnce(ctx, g)
	}
	if d.denyGuard(err) {
		counts, err = d.pipelineOnce(ctx, g) // guarded keys now plain
	}
	return counts, err
}

func (d *Deleter) pipelineOnce(ctx context.Context, g group) (guardCounts, error) {
	cluster, off := isCluster(d.rdb), d.guardDenied.Load()
	perCmd := multiKeyChunk
	if perKeyRouted(d.rdb) {
		perCmd = 1
	}
	pipe := d.rdb.Pipeline()
	guards := d.queueGuards(ctx, pipe, g, cluster, off)
	args := make([]any, 0, perCmd+1)
	flush := func() {
		if len(args) > 1 {
			pipe.Do(ctx, args...)
		}
		args = make([]any, 0, perCmd+1)
	}
	for _, b := range g.batches {
		for i, k := range b.Keys {
			if guardable(b, i, cluster, off) {
				continue
			}
			if len(args) == 0 {
				args = append(args, d.command())
			}
			args = append(args, k)
			if len(args) == perCmd+1 {
				flush()
			}
		}
	}
	flush()
	sets := d.queueSets(ctx, pipe, g) // after the deletes: a key both deleted and set ends up set
	_, err := pipe.Exec(ctx)
	if _, serr := setsResult(sets, nil); redis.HasErrorPrefix(serr, "NOSCRIPT") {
		return guardCounts{}, errWriteThroughNoScript
	}
	return countGuards(guards, err)
}

// errWriteThroughNoScript: Redis lost the write-through script (a restart,
// SCRIPT FLUSH); deleteOnce loads it and repeats the idempotent round trip.
var errWriteThroughNoScript = errors.New("write-through script not loaded (NOSCRIPT)")

func (d *Deleter) command() string {
	if d.cfg.UseDel {
		return "del"
	}
	return "unlink"
}
