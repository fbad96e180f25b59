package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
)

// lastDone remembers when the last piece of work finished.
type lastDone struct{ last atomic.Int64 }

func newLastDone() *lastDone {
	p := &lastDone{}
	p.done()
	return p
}

func (p *lastDone) done()                { p.last.Store(time.Now().UnixNano()) }
func (p *lastDone) since() time.Duration { return time.Since(time.Unix(0, p.last.Load())) }

// watchStall marks part not ready while work waits (waiting() > 0) and none
// of it has finished for stallAfter: Redis or Kafka down, or stuck.
func watchStall(ctx context.Context, h *health, part string, waiting func() int, p *lastDone, stallAfter, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := waiting(); n > 0 && p.since() > stallAfter {
			h.bad(part, fmt.Sprintf("%d waiting and nothing finished for %s: is Redis (or Kafka) reachable?", n, p.since().Round(time.Second)))
		} else {
			h.ok(part)
		}
	}
}

// watchRetention measures, every period, how much binlog the server keeps
// before the checkpoint's file: the metrics say how many purges away losing
// the checkpoint is, a warning says when the next one would, and /readyz
// fails once the file is gone (the tailer then stops with the ways out).
func watchRetention(ctx context.Context, src config.SourceConfig, saved func() event.Position, h *health, m *metrics.Metrics,
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
			ret, err := canal.RetentionBefore(ctx, src, pos.File)
			switch {
			case err != nil:
				log.Debug("cannot list the binlog files", zap.Error(err))
			case !ret.Found:
				h.bad("binlog retention", fmt.Sprintf("the checkpoint's binlog file %s is no longer on the server", pos.File))
			default:
				h.ok("binlog retention")
				m.HeadroomFiles.Set(float64(ret.Files))
				m.HeadroomBytes.Set(float64(ret.Bytes))
				if ret.Files == 0 && !warned {
					log.Warn("binlog retention headroom is zero: the checkpoint is in the oldest binlog file the server keeps, so the next purge (binlog_expire_logs_seconds, expire_logs_days, PURGE BINARY LOGS) loses it unless cachesync moves on first",
						zap.Stringer("checkpoint", pos), zap.Int("binlog_files", ret.Total))
				}
				warned = ret.Files == 0
			}
		}
	}
}
