package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
)

// Roles of `cachesync run`: all runs every side this config has — the
// tailer, the deleter (with Kafka: the consumer) and, when some rule has
// write_behind, the flusher; the others run one side, so they can be scaled
// and restarted apart.
const (
	RoleAll      = "all"
	RoleTailer   = "tailer"
	RoleConsumer = "consumer"
	RoleFlusher  = "flusher"
)

// CheckRole says whether role is one of the roles.
func CheckRole(role string) error {
	switch role {
	case RoleAll, RoleTailer, RoleConsumer, RoleFlusher:
		return nil
	}
	return fmt.Errorf("--role %q: want all, tailer, consumer or flusher", role)
}

// errShutdownTimeout ends the hard context when a graceful stop overran
// shutdown.timeout.
var errShutdownTimeout = errors.New("shutdown.timeout passed")

// Run runs the sides role names until soft ends (graceful: stop reading,
// finish what is in flight, save the checkpoint) or hard ends (stop at
// once). A graceful stop that takes longer than shutdown.timeout turns hard.
// One side failing stops the others (gracefully); each side's error is
// reported.
func Run(soft, hard context.Context, role string, cfg *config.Config, d Deps) error {
	// The contexts are derived here so the watchdog can end hard itself.
	hard, stopHard := context.WithCancelCause(hard)
	defer stopHard(nil)
	soft, stopSoft := context.WithCancel(soft)
	defer stopSoft()
	defer context.AfterFunc(hard, stopSoft)()

	wb := cfg.WriteBehindRules()
	var sides []func(context.Context) error
	if role == RoleAll || role == RoleTailer {
		sides = append(sides, func(ctx context.Context) error { return Tailer(ctx, hard, cfg, d) })
	}
	if cfg.Transport.Kind == "kafka" && (role == RoleAll || role == RoleConsumer) {
		sides = append(sides, func(ctx context.Context) error { return Consumer(ctx, hard, cfg, d) })
	}
	if len(wb) > 0 && (role == RoleAll || role == RoleFlusher) {
		sides = append(sides, func(ctx context.Context) error { return Flushers(ctx, cfg, wb, d) })
	}
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
	go shutdownWatchdog(soft, done, stopHard, cfg.Shutdown.Timeout.D(), d)
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

// shutdownWatchdog bounds a graceful stop: once soft ends, it waits
// timeout for done, then logs what is still unfinished (the readiness
// parts that are not ready) and ends hard, which stops every part at once
// without saving past what is done. If even that does not end the process
// within d.HardGrace, it exits 1 itself.
func shutdownWatchdog(soft context.Context, done <-chan struct{}, stopHard context.CancelCauseFunc, timeout time.Duration, d Deps) {
	log, h := d.log(), d.Health
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
	stuck := h.Unfinished()
	log.Error("shutdown.timeout passed with work unfinished: stopping at once; the checkpoint keeps only what is done, and the rest is replayed after a restart",
		zap.Duration("shutdown_timeout", timeout), zap.String("stuck", stuck))
	stopHard(errShutdownTimeout)
	select {
	case <-time.After(d.hardGrace()):
		log.Error("still not stopped after shutdown.timeout; exiting", zap.Duration("waited", timeout+d.hardGrace()), zap.String("stuck", h.Unfinished()))
		_ = log.Sync()
		d.exit(1)
	case <-done:
	}
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
