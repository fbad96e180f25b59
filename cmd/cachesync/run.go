package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/source"
)

// cmdRun runs the pipeline until soft ends (graceful: stop reading, finish
// what is in flight, save the checkpoint) or hard ends (stop at once).
func cmdRun(soft, hard context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "cachesync.yaml", "config file")
	logFormat := fs.String("log-format", "json", "json or console")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	role := fs.String("role", "all", "all (tailer and deleter — with kafka, the consumer — plus the write-behind flusher when a rule has write_behind), tailer, consumer (kafka only), or flusher")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := checkRole(*role); err != nil {
		return &exitError{code: 2, err: err}
	}
	log, err := logging.New(*logFormat, *logLevel)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer log.Sync()                    //nolint:errcheck // stderr sync errors are not actionable
	redis.SetLogger(logging.Redis(log)) // go-redis has only a process-wide logger
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	// shutdown.timeout: past it a graceful stop becomes a hard one. The
	// contexts are derived here so the watchdog can end hard itself.
	hard, stopHard := context.WithCancelCause(hard)
	defer stopHard(nil)
	soft, stopSoft := context.WithCancel(soft)
	defer stopSoft()
	defer context.AfterFunc(hard, stopSoft)()
	return runRole(soft, hard, stopHard, *role, cfg, log, m, reg)
}

// errShutdownTimeout ends the hard context when a graceful stop overran
// shutdown.timeout.
var errShutdownTimeout = errors.New("shutdown.timeout passed")

// shutdownWatchdog bounds a graceful stop: once soft ends, it waits
// shutdown.timeout for done, then logs what is still unfinished (the
// readiness parts that are not ready) and ends hard, which stops every part
// at once without saving past what is done. If even that does not end the
// process within hardGrace, it exits 1 itself.
func shutdownWatchdog(soft context.Context, done <-chan struct{}, stopHard context.CancelCauseFunc, timeout, hardGrace time.Duration, h *health, log *zap.Logger) {
	select {
	case <-soft.Done():
	case <-done:
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
		return
	}
	stuck := h.unfinished()
	log.Error("shutdown.timeout passed with work unfinished: stopping at once; the checkpoint keeps only what is done, and the rest is replayed after a restart",
		zap.Duration("shutdown_timeout", timeout), zap.String("stuck", stuck))
	stopHard(errShutdownTimeout)
	select {
	case <-time.After(hardGrace):
		log.Error("still not stopped after shutdown.timeout; exiting", zap.Duration("waited", timeout+hardGrace), zap.String("stuck", h.unfinished()))
		_ = log.Sync()
		os.Exit(1)
	case <-done:
	}
}

// pipelineParts are the /readyz parts of runPipeline: a standby, which runs
// none, is ready.
var pipelineParts = []string{"binlog", "invalidations", "checkpoint", "binlog retention"}

func runPipeline(soft, hard context.Context, cfg *config.Config, store checkpoint.Store, log *zap.Logger, m *metrics.Metrics, h *health) error {
	h.starting("binlog")
	m.Leader.Set(1)
	defer func() {
		m.Leader.Set(0)
		h.drop(pipelineParts...)
	}()
	warnings, err := source.PreflightWarnings(soft, cfg.Source)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	rep, err := source.CheckSchema(soft, cfg.Source, rulePtrs(cfg))
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("the rules do not fit the source's schema:\n%w", errors.Join(rep.Problems...))
	}
	for _, m := range rep.Missing {
		log.Warn(m + "; its rows will be invalidated once the table exists")
	}
	start, _, err := store.Load(soft)
	if err != nil {
		return err
	}
	backoff := cfg.Retry.Backoff()
	tracker := checkpoint.NewTracker(event.Position{}) // the tailer commits its start position
	finished := newLastDone()
	out, err := newTransport(soft, cfg, event.AckerFunc(func(seq uint64) {
		tracker.Done(seq)
		finished.done()
		m.InFlightBatches.Set(float64(tracker.InFlight()))
	}), backoff, log, m)
	if err != nil {
		return err
	}
	defer out.release()
	defer h.pending("batches read from the binlog and not yet invalidated", tracker.InFlight)()
	if kt, ok := out.(*kafkaTransport); ok {
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
	tailer := canal.New(cfg.Source, rulePtrs(cfg), out, tracker, log.Named("tailer"), m, backoff)
	tailer.RowIdentity = cfg.Transport.Kind == "kafka" && cfg.Transport.Kafka.Message == "row"
	tailer.OnState = func(up bool, err error) {
		if up {
			h.ok("binlog")
		} else {
			h.bad("binlog", "stream broke, reconnecting from the last transaction boundary: "+err.Error())
		}
	}
	tailer.XAStore = besideCheckpoint(cfg, store, "xa")
	tailer.Backfill = statementBackfill(cfg, backoff, log, m)
	if tailer.History, err = canal.OpenSchemaHistory(soft, besideCheckpoint(cfg, store, "schemas")); err != nil {
		return err
	}

	// The saver and the transport outlive the tailer: after reading stops,
	// the transport drains and the saver keeps saving until it has.
	g, gctx := errgroup.WithContext(hard)
	saverCtx, stopSaver := context.WithCancel(gctx)
	defer stopSaver()
	g.Go(func() error { return saver.Run(saverCtx) })
	wctx, stopWatch := context.WithCancel(hard)
	defer stopWatch()
	go watchStall(wctx, h, "invalidations", tracker.InFlight, finished, cfg.HTTP.StallAfter.D(), time.Second)
	go watchRetention(wctx, cfg.Source, saver.Saved, h, m, log.Named("retention"), 30*time.Second)
	go watchBinlogSettings(wctx, cfg.Source, m, log.Named("binlog settings"), 30*time.Second)
	go watchLag(wctx, tailer.TakeLagPeak, cfg.Source.LagWarning.D(), log.Named("lag"), time.Second)
	outDone := make(chan error, 1)
	g.Go(func() error { err := out.Run(gctx); outDone <- err; return err })

	// The tailer stops on soft; a failing transport or saver also stops it.
	tctx, tstop := context.WithCancel(soft)
	defer tstop()
	go func() { <-gctx.Done(); tstop() }()
	tailErr := tailer.Run(tctx, start)
	for errors.Is(tailErr, canal.ErrPositionGone) && cfg.Source.OnGap == "backfill" && tctx.Err() == nil {
		h.bad("binlog", "binlog gap: backfilling every mapped table (source.on_gap: backfill)")
		pos, err := gapBackfill(tctx, cfg, tailErr, log, m)
		if err != nil {
			tailErr = err
			break
		}
		tailErr = tailer.Run(tctx, pos)
	}
	log.Info("binlog reading stopped; finishing invalidations in flight", zap.Int("batches_in_flight", tracker.InFlight()))

	out.Finish() // the transport drains what it holds (deletes, or Kafka acks), then Run returns
	<-outDone
	stopSaver()
	runErr := g.Wait()
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	flushErr := saver.Flush(fctx)
	if flushErr != nil {
		flushErr = fmt.Errorf("the final checkpoint save failed; the next start replays from %s, which is harmless: %w", saver.Saved(), flushErr)
	}
	pos, _ := tracker.Safe()
	log.Info("stopped", zap.Stringer("checkpoint", saver.Saved()), zap.Stringer("safe", pos), zap.Int("batches_unfinished", tracker.InFlight()))
	if hard.Err() != nil && tracker.InFlight() > 0 {
		runErr = errors.Join(runErr, fmt.Errorf("stopped before %d batches were invalidated; they will be replayed from the checkpoint on restart", tracker.InFlight()))
	}
	return errors.Join(tailErr, runErr, flushErr)
}

func serveHTTP(cfg config.HTTPConfig, reg *prometheus.Registry, h *health, log *zap.Logger) (*http.Server, error) {
	addr := cfg.Addr
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr %s: %w (pick a free port, or set http.addr: off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", h.serveReady)
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if !isLoopback(ln.Addr()) {
			log.Warn("http.pprof is on and http.addr is not loopback: anyone who reaches it can read stacks and memory", zap.String("addr", ln.Addr().String()))
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("addr", ln.Addr().String()))
	return srv, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// besideCheckpoint is where the tailer keeps state with the checkpoint: a
// file next to a file checkpoint, a key next to a shared one in Redis (for
// the instance that takes over).
func besideCheckpoint(cfg *config.Config, store checkpoint.Store, name string) checkpoint.Blob {
	if rs, ok := store.(*checkpoint.RedisStore); ok {
		return rs.Blob(name)
	}
	return checkpoint.FileBlob{Path: cfg.Checkpoint.Path + "." + name}
}
