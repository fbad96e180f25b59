package canal

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

// Replayer re-reads a binlog range with the tailer's own handler (same
// rules, before and after images, watch lists, patterns, de-duplication) on
// a replica connection of its own, and stops by itself at the range's end.
// It never reads or writes a checkpoint store: its tracker is its own.
type Replayer struct {
	src     config.SourceConfig // ServerID must differ from the tailer's
	rules   []*config.Rule
	tables  []string // exact db.table names to read; empty: every mapped table
	sink    event.Sink
	tracker *checkpoint.Tracker
	log     *zap.Logger
	metrics *metrics.Metrics
	backoff retry.Backoff

	// IdleCheck is how long the stream may stay quiet before the replayer
	// checks whether only non-transaction events remain before the end;
	// default 1s.
	IdleCheck time.Duration
	// MaxReconnects bounds reconnects after the stream breaks; default 10.
	MaxReconnects int
	// RowIdentity: see Tailer.RowIdentity.
	RowIdentity bool
	// WriteThrough: see Tailer.WriteThrough.
	WriteThrough bool
	// History, if set, seeds the schemas in force at the range's positions
	// (read only: run owns the file).
	History *SchemaHistory
}

// NewReplayer returns a replayer; tables narrows it to those exact tables.
func NewReplayer(src config.SourceConfig, rules []*config.Rule, tables []string, sink event.Sink, tracker *checkpoint.Tracker,
	log *zap.Logger, m *metrics.Metrics, backoff retry.Backoff) *Replayer {
	return &Replayer{src: src, rules: rules, tables: tables, sink: sink, tracker: tracker, log: log, metrics: m, backoff: backoff}
}

func (r *Replayer) idleCheck() time.Duration {
	if r.IdleCheck <= 0 {
		return time.Second
	}
	return r.IdleCheck
}

func (r *Replayer) maxReconnects() int {
	if r.MaxReconnects <= 0 {
		return 10
	}
	return r.MaxReconnects
}

// Run replays rng until its end, ctx ends (an error), or the stream fails
// for good. Every batch is handed to the sink before Run returns.
func (r *Replayer) Run(ctx context.Context, rng Range) error {
	r.tracker.Commit(rng.From)
	if rng.Empty() {
		return nil
	}
	t := New(r.src, r.rules, r.sink, r.tracker, r.log, r.metrics, r.backoff)
	t.RowIdentity = r.RowIdentity
	t.WriteThrough = r.WriteThrough
	if err := t.resolveTimeZone(ctx); err != nil {
		return err
	}
	rh := &replayHandler{handler: newHandler(t), end: rng.To}
	rh.boundary, rh.last = rng.From, rng.From
	for attempt := 0; ; attempt++ {
		err := r.runOnce(ctx, t, rh)
		if rh.done.Load() {
			return nil
		}
		if ctx.Err() != nil {
			return r.interrupted(rh.lastBoundary(), rng, ctx.Err())
		}
		if isUnsafe(err) {
			return err // the same event would come again, as in Tailer.Run
		}
		if perm := classify(err, rh.lastBoundary(), r.src); perm != nil {
			if errors.Is(perm, ErrPositionGone) {
				return fmt.Errorf("%w: the replay reached %s, and the server no longer has the binlog after it (purged while replaying?): %v",
					ErrPositionGone, rh.lastBoundary(), err)
			}
			return perm
		}
		if attempt+1 >= r.maxReconnects() {
			return fmt.Errorf("replay at %s: the binlog stream kept breaking (%d attempts): %w", rh.lastBoundary(), attempt+1, err)
		}
		wait := r.backoff.Delay(attempt)
		r.log.Warn("binlog stream broke; reconnecting from the last transaction boundary",
			zap.Stringer("position", rh.lastBoundary()), zap.Duration("wait", wait), zap.Error(err))
		if retry.SleepCtx(ctx, wait) != nil {
			return r.interrupted(rh.lastBoundary(), rng, ctx.Err())
		}
	}
}

// interrupted says where a stopped replay got to and how to finish it:
// everything before the last boundary was handed to the sink.
func (r *Replayer) interrupted(at event.Position, rng Range, err error) error {
	return fmt.Errorf("replay stopped at %s before reaching %s (%w): to finish, replay --from %s:%d --to %s:%d",
		at, rng.To, err, at.File, at.Pos, rng.To.File, rng.To.Pos)
}

// runOnce streams from the last boundary until the handler reaches the end,
// the idle check finds nothing but non-transaction events left, or the
// stream fails.
func (r *Replayer) runOnce(ctx context.Context, t *Tailer, rh *replayHandler) error {
	cc, err := t.canalConfig()
	if err != nil {
		return err
	}
	if len(r.tables) > 0 {
		cc.IncludeTableRegex = exactTableRegexes(r.tables)
	}
	c, err := gocanal.NewCanal(cc)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", r.src.Addr, err)
	}
	if err := markAbsentColumns(c, rh.doubt.maps.put); err != nil {
		c.Close()
		return fmt.Errorf("%w (%w)", errNoRowImageHook, err)
	}
	// The same wiring as Tailer.runOnce, with rh in front of the handler.
	rh.boundary = rh.lastBoundary()
	rh.reset()
	seedFrom(c, r.History, rh.boundary)
	c.SetEventHandler(rh)
	rh.ctx = ctx
	rh.canal = c
	from := rh.boundary
	done := make(chan error, 1)
	go func() { done <- c.RunFrom(mysql.Position{Name: from.File, Pos: from.Pos}) }()

	tick := time.NewTicker(r.idleCheck())
	defer tick.Stop()
	seen := rh.events.Load()
	for {
		select {
		case err := <-done:
			c.Close()
			return err
		case <-ctx.Done():
			c.Close()
			return <-done
		case <-tick.C:
			if n := rh.events.Load(); n != seen {
				seen = n
				continue
			}
			if r.reachedEnd(ctx, rh.lastBoundary(), rh.end) {
				rh.done.Store(true)
				c.Close()
				return <-done
			}
		}
	}
}

// reachedEnd reports whether only events that carry no rows lie between
// the last boundary the handler saw and the end: a quiet server writes
// such events (Binlog_checkpoint, Gtid_list) after its last commit, and no
// handler callback would ever report having passed them.
func (r *Replayer) reachedEnd(ctx context.Context, from, end event.Position) bool {
	conn, err := source.Connect(ctx, r.src)
	if err != nil {
		r.log.Warn("checking whether the replay reached its end", zap.Error(err))
		return false
	}
	defer conn.Close()
	for hop := 0; hop < 4; hop++ { // a few rotations at most
		if from.Compare(end) >= 0 {
			return true
		}
		const page = 16
		evs, err := listEvents(conn, from.File, from.Pos, page)
		if err != nil {
			r.log.Warn("checking whether the replay reached its end", zap.Stringer("position", from), zap.Error(err))
			return false
		}
		next := ""
		for _, ev := range evs {
			if (event.Position{File: from.File, Pos: ev.pos}).Compare(end) >= 0 {
				return true
			}
			switch {
			case ev.typ == "Rotate":
				next, _, _ = strings.Cut(ev.info, ";")
			case !carriesNoRows(ev.typ):
				return false
			}
		}
		switch {
		case next != "":
			from = event.Position{File: next, Pos: 4}
		case len(evs) < page:
			return from.File == end.File // the file ends before the end position: nothing left
		default:
			return false
		}
	}
	return false
}

func exactTableRegexes(tables []string) []string {
	out := make([]string, 0, len(tables))
	for _, t := range tables {
		out = append(out, `(?s)^`+regexp.QuoteMeta(t)+`$`)
	}
	return out
}

// replayHandler is the tailer's handler plus an end: events that start at
// or after it are not processed, and the first boundary at or past it stops
// canal (a handler error of context.Canceled ends canal's run quietly).
type replayHandler struct {
	*handler
	end    event.Position
	done   atomic.Bool
	events atomic.Uint64 // callbacks seen, for the idle check

	mu   sync.Mutex
	last event.Position // last boundary, read by the idle check
}

func (rh *replayHandler) lastBoundary() event.Position {
	rh.mu.Lock()
	defer rh.mu.Unlock()
	return rh.last
}

func (rh *replayHandler) pastEnd(hdr *replication.EventHeader) bool {
	start := event.Position{File: rh.curFile, Pos: hdr.LogPos - hdr.EventSize}
	return rh.done.Load() || start.Compare(rh.end) >= 0
}

func (rh *replayHandler) OnRow(e *gocanal.RowsEvent) error {
	rh.events.Add(1)
	if rh.pastEnd(e.Header) {
		return nil
	}
	return rh.handler.OnRow(e)
}

func (rh *replayHandler) OnTableNotFound(hdr *replication.EventHeader, e *replication.RowsEvent) error {
	rh.events.Add(1)
	if rh.pastEnd(hdr) {
		return nil
	}
	return rh.handler.OnTableNotFound(hdr, e)
}

func (rh *replayHandler) OnGTID(hdr *replication.EventHeader, _ mysql.BinlogGTIDEvent) error {
	rh.events.Add(1)
	if rh.pastEnd(hdr) {
		rh.done.Store(true)
		return context.Canceled
	}
	return nil
}

func (rh *replayHandler) OnRotate(hdr *replication.EventHeader, e *replication.RotateEvent) error {
	rh.events.Add(1)
	return rh.handler.OnRotate(hdr, e)
}

func (rh *replayHandler) OnPosSynced(hdr *replication.EventHeader, pos mysql.Position, set mysql.GTIDSet, force bool) error {
	if hdr == nil {
		return nil // canal.Close
	}
	rh.events.Add(1)
	p := event.Position{File: pos.Name, Pos: pos.Pos}
	c := p.Compare(rh.end)
	if rh.done.Load() || c > 0 {
		rh.done.Store(true)
		return context.Canceled
	}
	if err := rh.handler.OnPosSynced(hdr, pos, set, force); err != nil {
		return err
	}
	rh.mu.Lock()
	rh.last = p
	rh.mu.Unlock()
	if c == 0 {
		rh.done.Store(true)
		return context.Canceled
	}
	return nil
}
