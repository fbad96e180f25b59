package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/observe"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/source"
)

const observeUsage = `Usage: cachesync observe --config FILE [--report] [--for 10m] [--http ADDR] [--server-id N]

Measures how consistent the cache is: for a sample (observe.sample) of the
row changes of the rules with observe:, it reads their keys in Redis at
each window after the commit (observe.windows) and counts the keys still
holding an older version than the one committed. A key still stale at the
last window is re-read from the database (the row may have changed again)
before it counts as inconsistent, and is logged with its key, row and both
versions. See README, "How consistent is the cache: the observer".

It is read-only: it reads the binlog as a replica of its own (--server-id,
default source.server_id plus a random offset, from the primary's current
position), reads Redis and re-reads rows, and deletes nothing, saves no
checkpoint. Run it beside cachesync run, or beside any other invalidator
to measure it before switching.

It runs until SIGINT/SIGTERM, or for --for. --report prints, at exit, a
table per rule and window: the key checks, how many were stale, and the
nines (-log10 of the stale share). --http serves the metrics
cachesync_consistency_* on /metrics.

Exit status: 0 after a stop, 1 when the binlog or Redis cannot be read, 2 on bad flags.

Flags:
`

type observeFlags struct {
	config, logFormat, logLevel, http string
	report                            bool
	duration                          time.Duration
	serverID                          uint
}

func parseObserveFlags(args []string, stderr io.Writer) (observeFlags, error) {
	var f observeFlags
	fs := flag.NewFlagSet("observe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, observeUsage); fs.PrintDefaults() }
	fs.StringVar(&f.config, "config", "cachesync.yaml", "config file")
	fs.BoolVar(&f.report, "report", false, "print the counts and nines per rule and window at exit")
	fs.DurationVar(&f.duration, "for", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	fs.StringVar(&f.http, "http", "", "serve /metrics on this host:port (default: none; http.addr is cachesync run's)")
	fs.UintVar(&f.serverID, "server-id", 0, "replica server_id for reading the binlog; default source.server_id + a random offset")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return f, parseFlags(fs, args)
}

// cmdObserve is `cachesync observe`.
func cmdObserve(soft context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseObserveFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(f.logFormat, f.logLevel)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer log.Sync() //nolint:errcheck // stderr sync errors are not actionable
	redis.SetLogger(logging.Redis(log))
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	src := cfg.Source
	if src.ServerID, err = replayServerID(cfg.Source.ServerID, f.serverID); err != nil {
		return err
	}
	if err := source.Preflight(soft, src); err != nil {
		return err
	}
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	s, err := observe.NewStandalone(cfg, src, rdb, log.Named("observe"), metrics.NewObserver(reg))
	if err != nil {
		return err
	}
	if f.http != "" {
		stop, err := serveObserveMetrics(f.http, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx := soft
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(soft, f.duration)
		defer cancel()
	}
	log.Info("observing", zap.Uint32("server_id", src.ServerID), zap.Float64("sample", cfg.Observe.Sample),
		zap.Strings("windows", s.Windows()), zap.Int("rules", len(cfg.ObservedRules())))
	err = s.Run(ctx)
	if f.report {
		fmt.Fprintf(stdout, "cachesync observe: consistency of %d observed rule(s), sample %g\n", len(cfg.ObservedRules()), cfg.Observe.Sample)
		s.Report(stdout)
	}
	return err
}

func serveObserveMetrics(addr string, reg *prometheus.Registry, log *zap.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.Error(err))
		}
	}()
	return func() { srv.Close() }, nil
}
