package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// streamParts are the /readyz parts of stream: a standby, which runs none,
// is ready.
var streamParts = []string{"binlog", "invalidations", "checkpoint", "binlog retention"}

// stream checks the source, then streams the binlog from the checkpoint in
// store to the configured output until soft or hard ends (see streamer for
// the order of a stop).
func stream(soft, hard context.Context, cfg *config.Config, store checkpoint.Store, d Deps) error {
	log, m, h := d.log(), d.Metrics, d.Health
	h.starting("binlog")
	m.Leader.Set(1)
	defer func() {
		m.Leader.Set(0)
		h.drop(streamParts...)
	}()
	if err := checkSource(soft, cfg, log); err != nil {
		return err
	}
	start, _, err := store.Load(soft)
	if err != nil {
		return err
	}
	backoff := cfg.Retry.Backoff()
	tracker := checkpoint.NewTracker(event.Position{}) // the tailer commits its start position
	finished := newLastDone()
	restarts := newRestartWatch(cfg, d)
	out, release, err := NewOutput(soft, cfg, event.AckerFunc(func(seq uint64) {
		tracker.Done(seq)
		finished.done()
		m.InFlightBatches.Set(float64(tracker.InFlight()))
	}), OutputOptions{OnRedisConnect: restarts.Kick}, d)
	if err != nil {
		return err
	}
	defer release()
	defer h.pending("batches read from the binlog and not yet invalidated", tracker.InFlight)()
	if kt, ok := out.(*kafkaOutput); ok {
		defer h.pending("messages not acknowledged by kafka", func() int { return int(kt.p.Pending()) })()
	}
	saver := &checkpoint.Saver{Tracker: tracker, Store: store, MinInterval: cfg.Checkpoint.MinInterval.D(),
		Backoff: backoff, Log: log.Named("checkpoint"), OnFailed: func(err error) {
			h.bad("checkpoint", "cannot save the checkpoint (retrying): "+err.Error())
		}, OnSaved: func(p event.Position) {
			h.ok("checkpoint")
			m.CheckpointSaves.Inc()
			m.CheckpointFile.Reset()
			m.CheckpointFile.WithLabelValues(p.File).Set(1)
			m.CheckpointPos.Set(float64(p.Pos))
		}}
	tailer := canal.New(cfg.Source, RulePtrs(cfg), out, tracker, log.Named("tailer"), m, backoff)
	tailer.RowIdentity = cfg.Transport.Kind == "kafka" && cfg.Transport.Kafka.Message == "row"
	tailer.WriteThrough = true // both transports carry event.Batch.Sets
	tailer.OnState = func(up bool, err error) {
		if up {
			h.ok("binlog")
		} else {
			h.bad("binlog", "stream broke, reconnecting from the last transaction boundary: "+err.Error())
		}
	}
	tailer.XAStore = besideCheckpoint(cfg, store, "xa")
	tailer.Backfill = statementBackfill(cfg, d)
	scan, closeScan := scanHook(cfg, log.Named("scan"))
	defer closeScan()
	tailer.Scan = scan
	if tailer.History, err = canal.OpenSchemaHistory(soft, besideCheckpoint(cfg, store, "schemas")); err != nil {
		return err
	}

	wctx, stopWatch := context.WithCancel(hard)
	defer stopWatch()
	go watchStall(wctx, h, "invalidations", stallHint(cfg.Transport.Kind), tracker.InFlight, finished, cfg.HTTP.StallAfter.D(), time.Second)
	go watchRetention(wctx, cfg.Source, saver.Saved, h, m, log.Named("retention"), 30*time.Second)
	go watchBinlogSettings(wctx, cfg.Source, m, log.Named("binlog settings"), 30*time.Second)
	go watchLag(wctx, tailer.TakeLagPeak, cfg.Source.LagWarning.D(), log.Named("lag"), time.Second)
	go restarts.run(wctx)
	s := &streamer{where: fmt.Sprint(store), read: tailer.Run, gap: gapPolicy(cfg.Source.OnGap, m.BinlogGaps, func(ctx context.Context, gone error) (event.Position, error) {
		return gapBackfill(ctx, cfg, gone, d)
	}), out: out, tracker: tracker, saver: saver, log: log, health: h, finalSave: d.finalSave()}
	return s.run(soft, hard, start)
}

// checkSource refuses a source whose settings or schema do not fit the
// rules, and logs what is only a warning.
func checkSource(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	warnings, err := source.PreflightWarnings(ctx, cfg.Source)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	rep, err := source.CheckSchema(ctx, cfg.Source, RulePtrs(cfg))
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("the rules do not fit the source's schema:\n%w", errors.Join(rep.Problems...))
	}
	for _, m := range rep.Missing {
		log.Warn(m + "; its rows will be invalidated once the table exists")
	}
	return nil
}

// streamer is the tailer side once it is set up; it holds the order of a
// stop. read streams from a position until its ctx ends or it fails; gap,
// when not nil, covers a position the server no longer has and says where
// to stream from instead (source.on_gap).
type streamer struct {
	read      func(ctx context.Context, from event.Position) error
	gap       func(ctx context.Context, gone error) (event.Position, error)
	out       event.Output
	tracker   *checkpoint.Tracker
	saver     *checkpoint.Saver
	log       *zap.Logger
	health    *Health
	finalSave time.Duration
	where     string // names the checkpoint store in errors about its position
}

// run streams from start until soft ends, then stops in order: reading
// first, then the output drains what it holds, then the saver stops and
// the final save writes what is acknowledged. When hard ends, everything
// stops at once and the final save still keeps only what is done.
func (s *streamer) run(soft, hard context.Context, start event.Position) error {
	// The saver and the output outlive reading: after reading stops, the
	// output drains and the saver keeps saving until it has.
	g, gctx := errgroup.WithContext(hard)
	saverCtx, stopSaver := context.WithCancel(gctx)
	defer stopSaver()
	g.Go(func() error { return s.saver.Run(saverCtx) })
	outDone := make(chan error, 1)
	g.Go(func() error { err := s.out.Run(gctx); outDone <- err; return err })

	// Reading stops on soft; a failing output or saver also stops it.
	tctx, tstop := context.WithCancel(soft)
	defer tstop()
	go func() { <-gctx.Done(); tstop() }()
	tailErr := s.readAll(tctx, start)
	s.log.Info("binlog reading stopped; finishing invalidations in flight", zap.Int("batches_in_flight", s.tracker.InFlight()))

	s.out.Close() // the output drains what it holds (deletes, or Kafka acks), then Run returns
	<-outDone
	stopSaver()
	runErr := g.Wait()
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	fctx, cancel := context.WithTimeout(context.Background(), s.finalSave)
	defer cancel()
	flushErr := s.saver.Flush(fctx)
	if flushErr != nil {
		flushErr = fmt.Errorf("the final checkpoint save failed; the next start replays from %s, which is harmless: %w", s.saver.Saved(), flushErr)
	}
	pos, _ := s.tracker.Safe()
	s.log.Info("stopped", zap.Stringer("checkpoint", s.saver.Saved()), zap.Stringer("safe", pos), zap.Int("batches_unfinished", s.tracker.InFlight()))
	if hard.Err() != nil && s.tracker.InFlight() > 0 {
		runErr = errors.Join(runErr, fmt.Errorf("stopped before %d batches were invalidated; they will be replayed from the checkpoint on restart", s.tracker.InFlight()))
	}
	return errors.Join(tailErr, runErr, flushErr)
}

// readAll reads from start; when the server no longer has the position and
// a gap policy covers it, it reads on from where that says.
func (s *streamer) readAll(ctx context.Context, start event.Position) error {
	err := s.read(ctx, start)
	for errors.Is(err, canal.ErrPositionGone) && s.gap != nil && ctx.Err() == nil {
		s.health.bad("binlog", "binlog gap: backfilling every mapped table (source.on_gap: backfill)")
		pos, gerr := s.gap(ctx, err)
		if gerr != nil {
			return gerr
		}
		err = s.read(ctx, pos)
	}
	if s.where != "" && (errors.Is(err, canal.ErrPositionGone) || errors.Is(err, canal.ErrPositionNotEvent)) {
		err = fmt.Errorf("%s: %w", s.where, err)
	}
	return err
}
