package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/source"
)

// A Redis that restarted. One that restarted empty (no persistence) is
// consistent: every key is a miss. One that loaded an RDB or AOF snapshot
// serves the values the snapshot holds — older than the invalidations
// cachesync sent since it was taken — until they expire. Each start gives
// a server a new run_id (INFO server), so the watcher reads the run_id of
// every server cachesync deletes on (each cluster master, each ring shard)
// every redis.restart_check and whenever a client opens a new connection,
// and on a change applies redis.on_restart: warn logs an ERROR naming the
// server, both run_ids and the replay to run, and counts it; replay does
// the same, then re-sends the invalidations since the restart minus
// redis.restart_lookback, reading that part of the binlog as `cachesync
// replay --from TIME` does (its own replica connection and tracker, never
// run's checkpoint) through the configured transport.

// restartWatch watches the run_ids of the Redis servers.
type restartWatch struct {
	cfg     config.RedisConfig
	log     *zap.Logger
	m       *metrics.Metrics
	replay  func(ctx context.Context, since time.Time) error // nil: on_restart warn
	kick    chan struct{}
	seen    map[string]string // server → run_id last read
	backoff retry.Backoff
}

func newRestartWatch(cfg *config.Config, d Deps) *restartWatch {
	w := &restartWatch{cfg: cfg.Redis, log: d.log().Named("redis restart"), m: d.Metrics, kick: make(chan struct{}, 1), seen: map[string]string{},
		backoff: cfg.Retry.Backoff()}
	if cfg.Redis.OnRestart == "replay" {
		w.replay = func(ctx context.Context, since time.Time) error { return replaySince(ctx, cfg, since, w.log) }
	}
	return w
}

// Kick asks for a look soon; it never blocks (a go-redis OnConnect hook).
func (w *restartWatch) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run looks at start, every restart_check and after each Kick, until ctx
// ends. A replay runs in the loop: a restart found meanwhile is handled
// after it, and its own lookback covers it.
func (w *restartWatch) run(ctx context.Context) {
	every := w.cfg.RestartCheck.D()
	if every <= 0 {
		return
	}
	rdb, err := sink.NewRedis(w.cfg)
	if err != nil {
		w.log.Error("cannot watch redis for restarts", zap.Error(err))
		return
	}
	defer rdb.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		runs, err := sink.RunIDs(cctx, rdb, w.cfg)
		cancel()
		if err != nil && ctx.Err() == nil {
			w.log.Debug("cannot read every redis run_id; looking again later", zap.Error(err))
		}
		for name, run := range runs {
			w.observe(ctx, name, run)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// observe compares one server's run with the last one read.
func (w *restartWatch) observe(ctx context.Context, name string, run sink.ServerRun) {
	old, known := w.seen[name]
	w.seen[name] = run.RunID
	if !known || old == run.RunID {
		return
	}
	w.m.RedisFaults.Restarts.WithLabelValues(name).Inc()
	since := run.Started.Add(-w.cfg.RestartLookback.D()).UTC().Truncate(time.Second)
	fields := []zap.Field{zap.String("redis", name), zap.String("old_run_id", old), zap.String("new_run_id", run.RunID),
		zap.Time("started", run.Started.UTC()), zap.String("replay_from", since.Format(time.RFC3339))}
	if w.replay == nil {
		w.log.Error("redis restarted (its run_id changed). Restarted empty, the cache is consistent; but if it loaded an RDB or AOF snapshot it serves the values the snapshot holds, older than invalidations cachesync already sent, until they expire. cachesync re-sends nothing (redis.on_restart: warn): run `cachesync replay --from <when the snapshot was taken>` (replay_from is restart_lookback before the restart), or set redis.on_restart: replay",
			fields...)
		return
	}
	w.log.Error("redis restarted (its run_id changed): if it loaded an old RDB or AOF snapshot it holds values older than invalidations already sent; re-sending the invalidations since replay_from (redis.on_restart: replay, restart_lookback)",
		fields...)
	if err := w.replayRetried(ctx, since); err != nil {
		if ctx.Err() != nil {
			return // stopping: not a failure of the replay
		}
		w.m.RedisFaults.Replays.WithLabelValues("failed").Inc()
		w.log.Error(fmt.Sprintf("the replay after the redis restart failed: run `cachesync replay --from %s` (or backfill the mapped tables)", since.Format(time.RFC3339)),
			zap.String("redis", name), zap.Error(err))
		return
	}
	w.m.RedisFaults.Replays.WithLabelValues("done").Inc()
}

// replayRetried runs the replay up to three times: a source or Redis that
// failed for a moment is no reason to leave stale values. A lookback the
// binlog no longer covers is not retried.
func (w *restartWatch) replayRetried(ctx context.Context, since time.Time) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			w.log.Warn("the replay after the redis restart failed; trying again", zap.Int("attempt", attempt+1), zap.Error(err))
			if retry.SleepCtx(ctx, w.backoff.Delay(attempt)) != nil {
				return ctx.Err()
			}
		}
		if err = w.replay(ctx, since); err == nil || errors.Is(err, canal.ErrPositionGone) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// replaySince re-sends the invalidations of the binlog from since to the
// primary's position now, as `cachesync replay --from since` would: the
// same canal.Replayer and output, a tracker of its own (run's checkpoint
// never moves back), a replica server_id of its own.
func replaySince(ctx context.Context, cfg *config.Config, since time.Time, log *zap.Logger) error {
	src := cfg.Source
	src.ServerID = otherServerID(cfg.Source.ServerID)
	rng, err := canal.ResolveRange(ctx, src, since.Format(time.RFC3339), "", log)
	var purged error
	if errors.Is(err, canal.ErrPositionGone) {
		// The lookback reaches past the binlog the server keeps: re-send
		// what it does keep, and say that the rest needs a backfill.
		purged = fmt.Errorf("%w: the invalidations before the oldest binlog file the server keeps could not be re-sent; run `cachesync backfill` for the mapped tables", err)
		log.Error("redis.restart_lookback reaches past the binlog the server keeps: replaying from its oldest binlog file; backfill the mapped tables for the rest", zap.Error(err))
		rng, err = oldestRange(ctx, src, log)
	}
	if errors.Is(err, canal.ErrNothingToReplay) {
		log.Info("no transaction since replay_from: nothing to re-send", zap.Time("replay_from", since))
		return purged
	}
	if err != nil {
		return errors.Join(purged, err)
	}
	m := metrics.New(nil) // run's counters stay run's
	tracker := checkpoint.NewTracker(event.Position{})
	out, release, err := NewOutput(ctx, cfg, tracker, OutputOptions{OneShot: true}, Deps{Log: log, Metrics: m})
	if err != nil {
		return err
	}
	defer release()
	r := canal.NewReplayer(src, RulePtrs(cfg), nil, out, tracker, log, m, cfg.Retry.Backoff())
	r.RowIdentity = cfg.Transport.Kind == "kafka" && cfg.Transport.Kafka.Message == "row"
	r.WriteThrough = true // both transports carry event.Batch.Sets
	if h, err := SchemaHistory(ctx, cfg); err == nil {
		r.History = h
	}
	log.Info("replaying after the redis restart", zap.Stringer("from", rng.From), zap.Stringer("to", rng.To), zap.Uint32("server_id", src.ServerID))
	runErr, _, outErr := Feed(ctx, out, func() error { return r.Run(ctx, rng) }, nil)
	if err := errors.Join(runErr, outErr); err != nil {
		return err
	}
	if n := tracker.InFlight(); n > 0 {
		return fmt.Errorf("%d batches of keys were not invalidated", n)
	}
	log.Info("replayed after the redis restart", zap.Stringer("from", rng.From), zap.Stringer("to", rng.To))
	return purged
}

// oldestRange is the whole binlog the server keeps, from its oldest file.
func oldestRange(ctx context.Context, src config.SourceConfig, log *zap.Logger) (canal.Range, error) {
	conn, err := source.Connect(ctx, src)
	if err != nil {
		return canal.Range{}, err
	}
	files, err := source.BinaryLogs(conn)
	conn.Close()
	if err != nil {
		return canal.Range{}, err
	}
	if len(files) == 0 {
		return canal.Range{}, errors.New("the server lists no binlog files")
	}
	return canal.ResolveRange(ctx, src, files[0].Name+":4", "", log)
}

// otherServerID is a replica server_id that is not the tailer's (which the
// server would disconnect) and not 0.
func otherServerID(tailer uint32) uint32 {
	for {
		if id := tailer + 1 + uint32(rand.IntN(1000)); id != 0 && id != tailer {
			return id
		}
	}
}
