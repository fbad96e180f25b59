package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/source"
	"github.com/cachesync/cachesync/writebehind/flusher"
)

// Roles of `cachesync run`: all runs every side this config has — the
// tailer, the deleter (with Kafka: the consumer) and, when some rule has
// write_behind, the flusher; the others run one side, so they can be scaled
// and restarted apart.
const (
	roleAll      = "all"
	roleTailer   = "tailer"
	roleConsumer = "consumer"
	roleFlusher  = "flusher"
)

func checkRole(role string) error {
	switch role {
	case roleAll, roleTailer, roleConsumer, roleFlusher:
		return nil
	}
	return fmt.Errorf("--role %q: want all, tailer, consumer or flusher", role)
}

// runRole runs what role names until soft (graceful) or hard ends.
func runRole(soft, hard context.Context, stopHard context.CancelCauseFunc, role string, cfg *config.Config, log *zap.Logger, m *metrics.Metrics, reg *prometheus.Registry) error {
	wb := cfg.WriteBehindRules()
	kafka := cfg.Transport.Kind == "kafka"
	switch {
	case role == roleFlusher && len(wb) == 0:
		return &exitError{code: 2, err: errors.New("--role flusher: no rule has write_behind, so there is nothing to flush")}
	case role == roleConsumer && !kafka:
		return &exitError{code: 2, err: errors.New("--role consumer: transport.kind is direct, where the tailer deletes itself; use --role tailer (or all), or set transport.kind: kafka")}
	}
	warnUnsafe(cfg, log)
	h := newHealth(log, reg)
	if cfg.HTTP.Addr != "off" {
		srv, err := serveHTTP(cfg.HTTP, reg, h, log)
		if err != nil {
			return err
		}
		defer srv.Shutdown(context.Background()) //nolint:errcheck
	}
	var sides []func(context.Context) error
	if role == roleAll || role == roleTailer {
		sides = append(sides, func(ctx context.Context) error { return runTailerSide(ctx, hard, cfg, log, m, h) })
	}
	if kafka && (role == roleAll || role == roleConsumer) {
		sides = append(sides, func(ctx context.Context) error { return runConsumer(ctx, hard, cfg, log, m, h) })
	}
	if len(wb) > 0 && (role == roleAll || role == roleFlusher) {
		// The flushers finish the batch in hand when they stop; whatever
		// they have not acknowledged is re-delivered later.
		sides = append(sides, func(ctx context.Context) error { return runFlushers(ctx, cfg, wb, log, m, h) })
	}
	// One side failing stops the others (gracefully); each side's error is
	// reported.
	sctx, stop := context.WithCancel(soft)
	defer stop()
	errs := make(chan error, len(sides))
	for _, side := range sides {
		go func() {
			err := side(sctx)
			stop()
			errs <- err
		}()
	}
	done := make(chan struct{})
	defer close(done)
	go shutdownWatchdog(soft, done, stopHard, cfg.Shutdown.Timeout.D(), 10*time.Second, h, log)
	var all []error
	for range sides {
		all = append(all, <-errs)
	}
	if rest := withoutCanceled(all); hard.Err() == nil && (soft.Err() != nil || len(rest) > 0) {
		// A stop that was asked for, or one side's failure, stops the
		// others: the steps that interrupts report context.Canceled, which
		// is no failure of theirs.
		all = rest
	}
	if errors.Is(context.Cause(hard), errShutdownTimeout) {
		all = append(all, fmt.Errorf("stopped at once: the graceful stop took longer than shutdown.timeout (%s)", cfg.Shutdown.Timeout))
	}
	return errors.Join(all...)
}

// withoutCanceled returns errs without the errors that are, or wrap,
// context.Canceled, looking inside errors.Join.
func withoutCanceled(errs []error) []error {
	var out []error
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			if rest := withoutCanceled(j.Unwrap()); len(rest) > 0 {
				out = append(out, errors.Join(rest...))
			}
			continue
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			out = append(out, err)
		}
	}
	return out
}

// warnUnsafe logs, at start and before anything connects, the settings
// that are valid but unsafe (insecure_skip_verify, no heartbeat): the same
// list config check prints.
func warnUnsafe(cfg *config.Config, log *zap.Logger) {
	for _, w := range configWarnings(cfg) {
		log.Warn(w)
	}
}

// runFlushers runs one flusher per write-behind rule until ctx ends.
func runFlushers(ctx context.Context, cfg *config.Config, rules []*config.Rule, log *zap.Logger, m *metrics.Metrics, h *health) error {
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	backoff := cfg.Retry.Backoff()
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range rules {
		// /readyz: "write-behind <stream>" fails while its flusher has been
		// failing (MySQL or Redis) for longer than http.stall_after.
		fl := &failing{}
		go watchFailing(gctx, h, "write-behind "+r.WriteBehind.Stream, fl, cfg.HTTP.StallAfter.D(), time.Second)
		f := flusher.New(rdb, mysqlDialer(cfg.Source), flusher.Config{Rule: r, SecondDelay: cfg.Delete.SecondDelay.D(), OnFailure: fl.fail, OnSuccess: fl.succeed},
			backoff, log.Named("flusher"), m)
		g.Go(func() error {
			if err := f.Run(gctx); err != nil {
				return fmt.Errorf("write-behind flusher of %s (stream %s): %w", r.Table, r.WriteBehind.Stream, err)
			}
			return nil
		})
	}
	log.Info("write-behind flushers started", zap.Int("streams", len(rules)))
	return g.Wait()
}

// mysqlDialer connects the flusher to the source with the source's user
// (source.Connect: source.tls, source.charset, errors that name the fix and
// never contain the password); it needs SELECT, INSERT, UPDATE, DELETE on
// the write-behind tables and CREATE on cachesync_wb_offsets.
func mysqlDialer(src config.SourceConfig) flusher.Dialer {
	return func(ctx context.Context) (*client.Conn, error) {
		c, err := source.Connect(ctx, src, func(c *client.Conn) error {
			c.ReadTimeout, c.WriteTimeout = 30*time.Second, 30*time.Second
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("flusher: %w", err)
		}
		return c, nil
	}
}
