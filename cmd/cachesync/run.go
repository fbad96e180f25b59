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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := pipeline.CheckRole(*role); err != nil {
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
	wb := cfg.WriteBehindRules()
	kafka := cfg.Transport.Kind == "kafka"
	switch {
	case *role == pipeline.RoleFlusher && len(wb) == 0:
		return &exitError{code: 2, err: errors.New("--role flusher: no rule has write_behind, so there is nothing to flush")}
	case *role == pipeline.RoleConsumer && !kafka:
		return &exitError{code: 2, err: errors.New("--role consumer: transport.kind is direct, where the tailer deletes itself; use --role tailer (or all), or set transport.kind: kafka")}
	}
	warnUnsafe(cfg, log)
	h := pipeline.NewHealth(log, reg)
	if cfg.HTTP.Addr != "off" {
		srv, err := serveHTTP(cfg.HTTP, reg, h, log)
		if err != nil {
			return err
		}
		defer srv.Shutdown(context.Background()) //nolint:errcheck
	}
	return pipeline.Run(soft, hard, *role, cfg, pipeline.Deps{Log: log, Metrics: m, Health: h})
}

// warnUnsafe logs, at start and before anything connects, the settings
// that are valid but unsafe (insecure_skip_verify, no heartbeat): the same
// list config check prints.
func warnUnsafe(cfg *config.Config, log *zap.Logger) {
	for _, w := range configWarnings(cfg) {
		log.Warn(w)
	}
}

func serveHTTP(cfg config.HTTPConfig, reg *prometheus.Registry, h *pipeline.Health, log *zap.Logger) (*http.Server, error) {
	addr := cfg.Addr
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr %s: %w (pick a free port, or set http.addr: off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/readyz", h)
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
