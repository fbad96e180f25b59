package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/backfill"
	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// gapPolicy is source.on_gap: what the tailer side does when the server no
// longer has the checkpoint's binlog. "fail" (nil) stops with the error,
// which names the ways out; "backfill" counts the gap in gaps, covers it
// with cover and streams on from where it says.
func gapPolicy(onGap string, gaps prometheus.Counter, cover func(ctx context.Context, gone error) (event.Position, error)) func(context.Context, error) (event.Position, error) {
	if onGap != "backfill" {
		return nil
	}
	return func(ctx context.Context, gone error) (event.Position, error) {
		gaps.Inc()
		return cover(ctx, gone)
	}
}

// gapBackfill is source.on_gap: backfill. The binlog between the checkpoint
// and now is gone, so which rows changed is unknown: it records the primary's
// position first, then invalidates every key of every mapped table by
// scanning it (the backfill tool's code, through the configured transport),
// and returns the recorded position to stream from. Changes made during the
// scan are in the binlog after that position, so nothing falls between. The
// checkpoint is not touched until the caller streams from the position: a
// crash here meets the same gap, and the same backfill, on restart.
func gapBackfill(ctx context.Context, cfg *config.Config, gap error, d Deps) (event.Position, error) {
	log := d.log().Named("gap")
	pos, err := source.CurrentPosition(ctx, cfg.Source)
	if err != nil {
		return event.Position{}, fmt.Errorf("on_gap backfill: %w", err)
	}
	tables, err := source.MappedTables(ctx, cfg.Source, RulePtrs(cfg))
	if err != nil {
		return event.Position{}, fmt.Errorf("on_gap backfill: %w", err)
	}
	log.Warn("binlog gap: the checkpoint's binlog is gone; invalidating every key of every mapped table, then streaming from the position recorded now (source.on_gap: backfill)",
		zap.Stringer("recorded", pos), zap.Strings("tables", tables), zap.NamedError("gap", gap))
	for _, table := range tables {
		if err := backfillTable(ctx, cfg, table, log, d); err != nil {
			return event.Position{}, fmt.Errorf("on_gap backfill of %s: %w (the checkpoint is unchanged: the next start backfills again)", table, err)
		}
	}
	log.Info("binlog gap covered: every mapped table invalidated; streaming from the recorded position", zap.Stringer("position", pos))
	return pos, nil
}

// backfillTable invalidates every key of table through the configured
// output, from a state file of its own that it starts afresh.
func backfillTable(ctx context.Context, cfg *config.Config, table string, log *zap.Logger, d Deps) error {
	state := StatePath(cfg, "gap", table)
	// A state file left by a gap backfill that crashed: this one starts over.
	if err := removeFile(state); err != nil {
		return err
	}
	opts := backfill.Options{Table: table, Chunk: 1000, InFlight: 4, StatePath: state}
	job, err := backfill.Prepare(ctx, cfg.Source, RulePtrs(cfg), opts, log, d.Metrics, cfg.Retry.Backoff())
	if err != nil {
		return err
	}
	defer job.Close()
	out, release, err := NewOutput(ctx, cfg, job.Acker(), OutputOptions{OneShot: true}, Deps{Log: log, Metrics: d.Metrics})
	if err != nil {
		return err
	}
	defer release()
	var stats backfill.Stats
	runErr, finErr, outErr := Feed(ctx, out, func() error { return job.Run(ctx, out) }, func() (err error) {
		stats, err = job.Finish(ctx)
		return err
	})
	if err := errors.Join(runErr, finErr, outErr); err != nil {
		return err
	}
	log.Info("table invalidated", zap.String("table", table), zap.Int64("rows", stats.RowsRead), zap.Int64("keys", stats.Keys))
	return removeFile(state)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// statementBackfill is source.on_statement_dml: backfill. The tailer calls
// it, before the checkpoint passes a change it cannot turn into keys, with
// the tables that change may have touched: each is invalidated by scanning
// it (the rows as they are now, after the change; the keys of values the
// change replaced are not known to anyone).
func statementBackfill(cfg *config.Config, d Deps) canal.Backfill {
	log := d.log().Named("on_statement_dml")
	return func(ctx context.Context, tables []string) error {
		for _, table := range tables {
			if err := backfillTable(ctx, cfg, table, log, d); err != nil {
				return fmt.Errorf("backfill of %s: %w", table, err)
			}
		}
		return nil
	}
}
