// Package torture measures how consistent a Redis cache stays with MySQL
// under the cache-aside race: W writers bump row versions while R readers
// fill the cache on misses, each fill delayed by an injected pause between
// its MySQL read and its cache write. Once the writers stop and every
// delete is done, each cached key's version is compared with its row.
//
// Modes differ only in who deletes and how readers fill: app-delete (the
// writer deletes after its commit, no sidecar), single (cachesync, one
// delete), double (cachesync, a second delete after D) and lease (cachesync
// plus the lease-fenced fills of package cacheaside). cmd/cachesync-torture
// is its command line; `make torture` runs it on private servers.
package torture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// The modes, in the order a full run compares them.
const (
	ModeAppDelete = "app-delete"
	ModeSingle    = "single"
	ModeDouble    = "double"
	ModeLease     = "lease"
)

// Modes lists every mode.
func Modes() []string { return []string{ModeAppDelete, ModeSingle, ModeDouble, ModeLease} }

// Options are one run's settings; the services must be private to it (each
// mode recreates the table and flushes the Redis database).
type Options struct {
	MySQLAddr, MySQLUser, MySQLPassword string
	Flavor                              string // mysql | mariadb; default mariadb
	RedisAddr                           string
	Database                            string // default torture
	ServerID                            uint32 // cachesync's replica id; default 4290

	Modes       []string
	Writers     int
	Readers     int
	Rows        int
	Duration    time.Duration // writers' run per mode
	SecondDelay time.Duration // D: double's second delete, lease and the pauses' unit
	Pause       Dist
	Seed        uint64
	WriteRate   float64       // all writers together, per second; 0: unbounded
	SettleLimit time.Duration // bound on cachesync catching up after the writers stop; default 2m
	ReaderConns int           // MySQL connections the readers share; default 32
	// Tail is how long the readers read on after every delete is done,
	// before they stop and the keys are compared; default 1s.
	Tail time.Duration
	// ReplicaAddr, when set, is a replica of MySQLAddr (MariaDB, GTID
	// mode) that the readers read instead of the primary, while its SQL
	// thread is stopped and started at random (lag up to ReplicaLag).
	ReplicaAddr string
	ReplicaLag  time.Duration
	// Observe runs the consistency observer (package observe) beside each
	// mode, in-process on its own binlog reader (ObserveServerID, default
	// ServerID+1), sampling ObserveSample of the row changes (default 1)
	// at ObserveWindows (default 1s, 10s); see ObserverStats.
	Observe         bool
	ObserveSample   float64
	ObserveWindows  []time.Duration
	ObserveServerID uint32

	Log *zap.Logger // default: none
}

func (o *Options) log() *zap.Logger {
	if o.Log == nil {
		return zap.NewNop()
	}
	return o.Log
}

func (o *Options) defaults() {
	o.Flavor = cmp.Or(o.Flavor, "mariadb")
	o.Database = cmp.Or(o.Database, "torture")
	o.ServerID = cmp.Or(o.ServerID, 4290)
	o.SettleLimit = cmp.Or(o.SettleLimit, 2*time.Minute)
	o.ReaderConns = cmp.Or(o.ReaderConns, 32)
	o.Tail = cmp.Or(o.Tail, time.Second)
	o.ObserveSample = cmp.Or(o.ObserveSample, 1)
	if len(o.ObserveWindows) == 0 {
		o.ObserveWindows = []time.Duration{time.Second, 10 * time.Second}
	}
	o.ObserveServerID = cmp.Or(o.ObserveServerID, o.ServerID+1)
}

// Check names every option that cannot work.
func (o *Options) Check() error {
	var errs []error
	for _, m := range o.Modes {
		if !validMode(m) {
			errs = append(errs, fmt.Errorf("mode %q: want one of %v", m, Modes()))
		}
	}
	if len(o.Modes) == 0 {
		errs = append(errs, errors.New("no mode to run"))
	}
	if o.Writers < 1 || o.Readers < 1 || o.Rows < 1 {
		errs = append(errs, fmt.Errorf("writers (%d), readers (%d) and rows (%d) must be at least 1", o.Writers, o.Readers, o.Rows))
	}
	if o.Duration <= 0 || o.SecondDelay <= 0 {
		errs = append(errs, fmt.Errorf("duration (%s) and second delay (%s) must be above 0", o.Duration, o.SecondDelay))
	}
	if len(o.Pause.parts) == 0 {
		errs = append(errs, errors.New("no pause distribution"))
	}
	for _, m := range o.Modes {
		if m == ModeReplicaAware && o.ReplicaAddr == "" {
			errs = append(errs, errors.New("mode replica-aware needs a replica (-replica)"))
		}
	}
	if o.ReplicaAddr != "" && o.ReplicaLag <= 0 {
		errs = append(errs, fmt.Errorf("replica lag (%s) must be above 0 with a replica", o.ReplicaLag))
	}
	return errors.Join(errs...)
}

func validMode(m string) bool {
	for _, v := range append(Modes(), ModeReplicaAware) {
		if m == v {
			return true
		}
	}
	return false
}

// Run runs each mode in turn and reports them all. A mode that fails is
// reported with its error and the run goes on to the next; ctx is the hard
// deadline of the whole run.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	rep := Report{Started: time.Now().UTC(), Writers: o.Writers, Readers: o.Readers, Rows: o.Rows,
		Duration: Millis(o.Duration), SecondDelay: Millis(o.SecondDelay), Pause: o.Pause.String(), Seed: o.Seed, WriteRate: o.WriteRate}
	if err := o.Check(); err != nil {
		return rep, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.RedisAddr, PoolSize: o.Readers + o.Writers + 8})
	defer rdb.Close()
	var errs []error
	for _, mode := range o.Modes {
		o.log().Info("mode starting", zap.String("mode", mode))
		res, err := o.runMode(ctx, mode, rdb)
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("mode %s: %w", mode, err))
		}
		rep.Modes = append(rep.Modes, res)
		if ctx.Err() != nil {
			break
		}
	}
	return rep, errors.Join(errs...)
}

// runMode is one mode: fresh table and cache, sidecar if any, readers and
// writers, the settle, the compare.
func (o *Options) runMode(ctx context.Context, mode string, rdb *redis.Client) (res ModeResult, err error) {
	res = ModeResult{Mode: mode, secondDelay: Millis(o.SecondDelay)}
	fill, err := o.fillFor(mode, rdb)
	if err != nil {
		return res, err
	}
	if err := o.resetTable(ctx); err != nil {
		return res, err
	}
	if o.ReplicaAddr != "" {
		res.Replica = &ReplicaStats{}
		if err := o.waitReplica(ctx); err != nil {
			return res, err
		}
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return res, fmt.Errorf("redis FLUSHDB: %w", err)
	}
	var obs *observerRun
	if o.Observe {
		if obs, err = o.startObserver(ctx, rdb); err != nil {
			return res, err
		}
		defer obs.abandon()
	}
	var sc *sidecar
	if mode != ModeAppDelete {
		if sc, err = o.sidecarFor(ctx, mode); err != nil {
			return res, err
		}
		defer func() { err = errors.Join(err, sc.stop(), os.RemoveAll(sc.dir)) }()
	}
	var del redis.UniversalClient
	if mode == ModeAppDelete {
		del = rdb
	}
	readers, writers, pool, err := o.workers(ctx, fill, del)
	defer func() {
		for range cap(pool) { // not closed: a load cut off by the deadline may still return its connection
			select {
			case rr := <-pool:
				rr.close()
			default:
			}
		}
		for _, w := range writers {
			w.close()
		}
	}()
	if err != nil {
		return res, err
	}
	raceErr := o.race(ctx, sc, readers, writers, &res)
	if sc != nil && res.Replica != nil && mode == ModeReplicaAware {
		sidecarWaits(sc.reg, res.Replica)
	}
	res.collect(readers, writers)
	if lc, ok := fill.(leaseCounter); ok {
		res.Lease = lc.leaseStats()
		if n := res.Lease.RedisErrors; n > 0 { // cacheaside serves these reads uncached instead of failing them
			res.Errors += int64(n)
			res.FirstError = cmp.Or(res.FirstError, fmt.Sprintf("cacheaside: %d Redis calls failed", n))
		}
	}
	if raceErr != nil {
		return res, raceErr
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("stopped before the compare (the -deadline passed, or a signal): %w", ctx.Err())
	}
	err = o.compare(ctx, rdb, readers, &res)
	if obs != nil && err == nil {
		err = obs.finish(ctx, o, &res)
	}
	return res, err
}

// race runs the readers and the writers: the writers for Duration, then
// the settle (cachesync, if any, catches up), then the tail; it returns
// once every reader has stopped, its fill in flight done.
func (o *Options) race(ctx context.Context, sc *sidecar, readers []*reader, writers []*writer, res *ModeResult) error {
	start := time.Now()
	stopReaders := make(chan struct{})
	var rwg, wwg sync.WaitGroup
	for _, r := range readers {
		r.start = start
		rwg.Go(func() { r.run(ctx, stopReaders) })
	}
	wctx, stopWriters := context.WithTimeout(ctx, o.Duration)
	defer stopWriters()
	for _, w := range writers {
		wwg.Go(func() { w.run(ctx, wctx) })
	}
	lagDone := make(chan error, 1)
	stopLag := make(chan struct{})
	if res.Replica != nil {
		go func() { lagDone <- o.injectLag(ctx, stopLag, res.Replica) }()
	} else {
		lagDone <- nil
	}
	wwg.Wait()
	close(stopLag)
	err := <-lagDone
	res.Elapsed = Millis(time.Since(start))
	settled := time.Now()
	if sc != nil && err == nil {
		err = o.settle(ctx, sc)
	}
	if res.Replica != nil && err == nil {
		err = o.waitReplica(ctx) // the lag ends; what was cached meanwhile stays
	}
	if err == nil {
		// The readers read on for Tail, refilling what the last deletes
		// removed from the final rows (a stale key stays: it is a hit).
		select {
		case <-time.After(o.Tail):
		case <-ctx.Done():
		}
	}
	close(stopReaders) // the reads in flight finish their fills
	rwg.Wait()
	res.Settle = Millis(time.Since(settled))
	return err
}

// sidecarFor starts cachesync for mode from the current binlog position.
func (o *Options) sidecarFor(ctx context.Context, mode string) (*sidecar, error) {
	pos, err := o.masterPos(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cachesync-torture-")
	if err != nil {
		return nil, err
	}
	delay := o.SecondDelay
	if mode == ModeSingle {
		delay = 0
	}
	sc, err := o.startSidecar(ctx, dir, pos, delay, mode == ModeReplicaAware)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	sc.dir = dir
	return sc, nil
}

// settle waits, bounded by SettleLimit, until cachesync has done every
// delete of every write (second deletes included).
func (o *Options) settle(ctx context.Context, sc *sidecar) error {
	pos, err := o.masterPos(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, o.SettleLimit)
	defer cancel()
	return sc.waitCaughtUp(sctx, pos)
}

// workers opens every connection before the clock starts: the readers
// share min(readers, ReaderConns) MySQL connections, each writer has its own.
func (o *Options) workers(ctx context.Context, fill fillStrategy, del redis.UniversalClient) ([]*reader, []*writer, chan *rowReader, error) {
	var readers []*reader
	var writers []*writer
	pool := make(chan *rowReader, min(o.Readers, o.ReaderConns))
	for range cap(pool) {
		rr, err := o.newRowReader(ctx)
		if err != nil {
			return readers, writers, pool, err
		}
		pool <- rr
	}
	for i := range o.Readers {
		readers = append(readers, &reader{idx: i, rows: o.Rows, fill: fill, pool: pool, dist: o.Pause,
			rng: rand.New(rand.NewPCG(o.Seed, uint64(i))), pauseRng: rand.New(rand.NewPCG(o.Seed, uint64(1<<31+i)))})
	}
	var lim *rate.Limiter
	if o.WriteRate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.WriteRate), max(1, int(o.WriteRate/100)))
	}
	for i := range o.Writers {
		w, err := o.newWriter(ctx, i, del, lim)
		if err != nil {
			return readers, writers, pool, err
		}
		writers = append(writers, w)
	}
	return readers, writers, pool, nil
}

// collect sums the workers' counters into res.
func (res *ModeResult) collect(readers []*reader, writers []*writer) {
	for _, r := range readers {
		res.Reads += r.reads
		res.Loads += r.loads
		res.Errors += r.errors
		if r.firstErr != nil && res.FirstError == "" {
			res.FirstError = r.firstErr.Error()
		}
	}
	for _, w := range writers {
		res.Writes += w.writes
		res.Errors += w.errors
		if w.firstErr != nil && res.FirstError == "" {
			res.FirstError = w.firstErr.Error()
		}
	}
}

// fillFor is the fill strategy of mode.
func (o *Options) fillFor(mode string, rdb redis.UniversalClient) (fillStrategy, error) {
	if mode == ModeLease || mode == ModeReplicaAware {
		return o.leaseFill(rdb)
	}
	return plainFill{rdb: rdb}, nil
}
