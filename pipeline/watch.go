package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

// lastDone remembers when the last piece of work finished, or when the
// stall watcher last saw nothing waiting.
type lastDone struct{ last atomic.Int64 }

func newLastDone() *lastDone {
	p := &lastDone{}
	p.done()
	return p
}

func (p *lastDone) done()                { p.last.Store(time.Now().UnixNano()) }
func (p *lastDone) since() time.Duration { return time.Since(time.Unix(0, p.last.Load())) }

// watchStall marks part not ready while work waits (waiting() > 0) and none
// of it has finished for stallAfter: what the work waits on (hint names it:
// Redis, or Kafka's acknowledgements) is down, or stuck.
func watchStall(ctx context.Context, h *Health, part, hint string, waiting func() int, p *lastDone, stallAfter, every time.Duration) {
	retry.Every(ctx, every, func() bool {
		stallTick(h, part, hint, waiting(), p, stallAfter)
		return true
	})
}

// stallTick is one look of watchStall at n pieces of work waiting. A tick
// that finds nothing waiting restarts the clock: work that arrives after an
// idle spell has waited since then at most, not since the last piece of
// work finished (which would report a stall the moment it arrives).
func stallTick(h *Health, part, hint string, n int, p *lastDone, stallAfter time.Duration) {
	switch {
	case n == 0:
		p.done()
		h.ok(part)
	case p.since() > stallAfter:
		h.bad(part, fmt.Sprintf("%d waiting and nothing finished for %s: %s", n, p.since().Round(time.Second), hint))
	default:
		h.ok(part)
	}
}

// stallHint says what the tailer's in-flight work waits on for transport kind.
func stallHint(kind string) string {
	if kind == "kafka" {
		return "Kafka acknowledges no publish: is the broker reachable and answering?"
	}
	return "Redis confirms no delete: is it reachable?"
}

// watchRetention measures, every period, how much binlog the server keeps
// before the checkpoint's file: the metrics say how many purges away losing
// the checkpoint is, a warning says when the next one would, and /readyz
// fails once the file is gone (the tailer then stops with the ways out).
func watchRetention(ctx context.Context, src config.SourceConfig, saved func() event.Position, h *Health, m *metrics.Metrics,
	log *zap.Logger, every time.Duration) {
	warned := false
	wait := time.Second // the first look soon after start, when the checkpoint is saved
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = every
		if pos := saved(); pos.File != "" {
			ret, err := source.RetentionBefore(ctx, src, pos)
			switch {
			case err != nil:
				log.Debug("cannot list the binlog files", zap.Error(err))
			case !ret.Found:
				h.bad("binlog retention", fmt.Sprintf("the checkpoint's binlog file %s is no longer on the server", pos.File))
			default:
				h.ok("binlog retention")
				m.HeadroomFiles.Set(float64(ret.Files))
				m.HeadroomBytes.Set(float64(ret.Bytes))
				m.BinlogBehind.Set(float64(ret.Behind))
				if ret.Files == 0 && !warned {
					log.Warn("binlog retention headroom is zero: the checkpoint is in the oldest binlog file the server keeps, so the next purge (binlog_expire_logs_seconds, expire_logs_days, PURGE BINARY LOGS) loses it unless cachesync moves on first",
						zap.Stringer("checkpoint", pos), zap.Int("binlog_files", ret.Total))
				}
				warned = ret.Files == 0
			}
		}
	}
}

// watchLag logs one warning when the replication lag passes limit, and one
// line when it is back under half of it: a state change, not a line per
// sample. limit 0 turns it off.
func watchLag(ctx context.Context, lag func() time.Duration, limit time.Duration, log *zap.Logger, every time.Duration) {
	if limit <= 0 {
		return
	}
	w := &lagWatch{limit: limit, log: log}
	retry.Every(ctx, every, func() bool { w.observe(lag()); return true })
}

type lagWatch struct {
	limit  time.Duration
	log    *zap.Logger
	behind bool
}

func (w *lagWatch) observe(l time.Duration) {
	switch {
	case !w.behind && l > w.limit:
		w.behind = true
		w.log.Warn("replication lag is above source.lag_warning: cachesync reads the binlog behind the primary's commits (a write burst, a slow Redis or Kafka, or a large transaction); stale keys stay cached that much longer",
			zap.Duration("lag", l.Round(time.Second)), zap.Duration("lag_warning", w.limit))
	case w.behind && l < w.limit/2:
		w.behind = false
		w.log.Info("replication lag is back under half of source.lag_warning", zap.Duration("lag", l.Round(time.Second)))
	}
}

// failing remembers since when a part's attempts keep failing (zero: the
// last attempt succeeded) and the last error.
type failing struct {
	mu    sync.Mutex
	since time.Time
	err   error
}

func (f *failing) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.since.IsZero() {
		f.since = time.Now()
	}
	f.err = err
}

func (f *failing) succeed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since, f.err = time.Time{}, nil
}

func (f *failing) state() (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.since.IsZero() {
		return 0, nil
	}
	return time.Since(f.since), f.err
}

// watchFailing marks part not ready while its attempts have failed for
// longer than stallAfter without one succeeding.
func watchFailing(ctx context.Context, h *Health, part string, f *failing, stallAfter, every time.Duration) {
	retry.Every(ctx, every, func() bool {
		if d, err := f.state(); d > stallAfter {
			h.bad(part, fmt.Sprintf("failing for %s and retrying: %v", d.Round(time.Second), err))
		} else {
			h.ok(part)
		}
		return true
	})
}
