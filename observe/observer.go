package observe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/cachesync/cachesync/metrics"
)

// Change is one sampled row change of an observed rule.
type Change struct {
	Rule    string   // the rule's label: its name, or its table
	Keys    []string // the rule's keys rendered from the row (after image; before image for a DELETE)
	Row     string   // the row's identity, for logs (event.AppendRowID)
	Version int64    // the committed version column value; unused for a DELETE
	Delete  bool     // the row was deleted: every key is expected absent
	Commit  time.Time
	// Ref is what the Confirmer needs to re-read the row (see MySQL).
	Ref RowRef

	seen time.Time // when the observer took it: the windows count from here
	x    *Extractor
}

// RowRef names a row in the database.
type RowRef struct {
	DB, Table string
	Column    string   // the version column
	PK        []string // primary key columns
	Values    []any    // their values, in PK order
}

// Confirmer re-reads a row's current version: exists false when the row is
// gone.
type Confirmer interface {
	Current(ctx context.Context, ref RowRef) (version int64, exists bool, err error)
}

// Result of one key check.
const (
	Consistent   = "consistent"
	Suspect      = "suspect"
	Inconsistent = "inconsistent"
	Superseded   = "superseded"
	Unreadable   = "unreadable"
	Failed       = "error"
)

// Config is the observer's part of the file (config.ObserveConfig).
type Config struct {
	Sample  float64
	Windows []time.Duration
	Queue   int
	Rate    int
}

// Deps are what the observer reads and reports to.
type Deps struct {
	Redis   redis.UniversalClient
	Confirm Confirmer
	Log     *zap.Logger
	Metrics *metrics.Observer
	// DeleteTimes, optional, tells when cachesync deleted key for the
	// change committed at commit (first and second delete), for the log of
	// an inconsistency. Without it the log says they are not known.
	DeleteTimes func(key string, commit time.Time) (first, second time.Time, ok bool)
	// Rand, optional, draws the sample (default math/rand/v2).
	Rand func() float64
}

// Observer checks sampled changes at each window; see the package doc.
type Observer struct {
	cfg      Config
	deps     Deps
	labels   []string // window labels, "1s" …
	in       chan *Change
	inflight atomic.Int64
	limiter  *rate.Limiter
	nines    *nines
	counts   counts
}

// New returns an observer; Run does the checks.
func New(cfg Config, deps Deps) (*Observer, error) {
	if len(cfg.Windows) == 0 || cfg.Queue < 1 || cfg.Rate < 1 || !(cfg.Sample > 0 && cfg.Sample <= 1) {
		return nil, fmt.Errorf("observe: need windows, queue ≥ 1, rate ≥ 1 and 0 < sample ≤ 1, got %+v", cfg)
	}
	if deps.Redis == nil || deps.Confirm == nil || deps.Log == nil || deps.Metrics == nil {
		return nil, errors.New("observe: Redis, Confirm, Log and Metrics are required")
	}
	if deps.Rand == nil {
		deps.Rand = rand.Float64
	}
	o := &Observer{cfg: cfg, deps: deps, in: make(chan *Change, cfg.Queue),
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), max(1, cfg.Rate/10)),
		counts:  counts{m: map[countKey]int64{}}}
	for _, w := range cfg.Windows {
		o.labels = append(o.labels, windowLabel(w))
	}
	o.nines = newNines(o.labels, time.Hour)
	return o, nil
}

// Pending is the number of sampled changes not past their last window.
func (o *Observer) Pending() int64 { return o.inflight.Load() }

// Take reports whether the next row change is sampled. Callers render the
// keys of a change only when it is.
func (o *Observer) Take() bool { return o.deps.Rand() < o.cfg.Sample }

// Offer queues a sampled change without blocking: when observe.queue
// changes are already waiting, it is dropped and counted. x reads the
// version of the change's rule.
func (o *Observer) Offer(c Change, x *Extractor) bool {
	if o.inflight.Add(1) > int64(o.cfg.Queue) {
		o.inflight.Add(-1)
		o.deps.Metrics.Dropped.Inc()
		o.counts.addDropped()
		return false
	}
	c.seen, c.x = time.Now(), x
	o.deps.Metrics.Sampled.Inc()
	o.in <- &c // never blocks: at most Queue changes are in flight
	return true
}

// pending is a change waiting for window w.
type pending struct {
	c   *Change
	w   int
	due time.Time
}

// Run checks the queued changes at their windows until ctx ends.
func (o *Observer) Run(ctx context.Context) error {
	// One FIFO per window: changes enter in arrival order, so each FIFO is
	// sorted by due time and the next check is at one of the heads.
	fifos := make([][]pending, len(o.cfg.Windows))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, at := -1, time.Time{}
		for w, f := range fifos {
			if len(f) > 0 && (next < 0 || f[0].due.Before(at)) {
				next, at = w, f[0].due
			}
		}
		wait := time.Hour
		if next >= 0 {
			wait = max(0, time.Until(at))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case c := <-o.in:
			fifos[0] = append(fifos[0], pending{c: c, w: 0, due: c.seen.Add(o.cfg.Windows[0])})
		case <-timer.C:
			if next < 0 {
				continue
			}
			p := fifos[next][0]
			fifos[next] = fifos[next][1:]
			if err := o.check(ctx, p.c, p.w); err != nil {
				return nil // ctx ended during the check
			}
			if p.w+1 < len(o.cfg.Windows) {
				fifos[p.w+1] = append(fifos[p.w+1], pending{c: p.c, w: p.w + 1, due: p.c.seen.Add(o.cfg.Windows[p.w+1])})
			} else {
				o.inflight.Add(-1)
			}
		}
	}
}

// record counts one key check.
func (o *Observer) record(c *Change, w int, result string) {
	o.deps.Metrics.Checks.WithLabelValues(c.Rule, o.labels[w], result).Inc()
	o.counts.add(c.Rule, o.labels[w], result)
	switch result {
	case Consistent:
		o.nines.add(w, time.Now(), false)
	case Suspect, Inconsistent:
		o.nines.add(w, time.Now(), true)
	default:
		return
	}
	last := strconv.FormatBool(w == len(o.labels)-1)
	o.deps.Metrics.Nines.WithLabelValues(o.labels[w], last).Set(o.nines.value(w, time.Now()))
}

// String formats a version for logs.
func version(v int64, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.FormatInt(v, 10)
}

// windowLabel names a window in metrics and reports: whole seconds as "60s"
// (not Go's "1m0s"), anything else as Go writes it ("200ms").
func windowLabel(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
