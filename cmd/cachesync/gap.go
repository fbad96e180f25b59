package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/backfill"
	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

// gapBackfill is source.on_gap: backfill. The binlog between the checkpoint
// and now is gone, so which rows changed is unknown: it records the primary's
// position first, then invalidates every key of every mapped table by
// scanning it (the backfill tool's code, through the configured transport),
// and returns the recorded position to stream from. Changes made during the
// scan are in the binlog after that position, so nothing falls between. The
// checkpoint is not touched until the caller streams from the position: a
// crash here meets the same gap, and the same backfill, on restart.
func gapBackfill(ctx context.Context, cfg *config.Config, gap error, log *zap.Logger, m *metrics.Metrics) (event.Position, error) {
	log = log.Named("gap")
	pos, err := source.CurrentPosition(ctx, cfg.Source)
	if err != nil {
		return event.Position{}, fmt.Errorf("on_gap backfill: %w", err)
	}
	tables, err := source.MappedTables(ctx, cfg.Source, rulePtrs(cfg))
	if err != nil {
		return event.Position{}, fmt.Errorf("on_gap backfill: %w", err)
	}
	log.Warn("binlog gap: the checkpoint's binlog is gone; invalidating every key of every mapped table, then streaming from the position recorded now (source.on_gap: backfill)",
		zap.Stringer("recorded", pos), zap.Strings("tables", tables), zap.NamedError("gap", gap))
	backoff := cfg.Retry.Backoff()
	for _, table := range tables {
		if err := gapBackfillTable(ctx, cfg, table, backoff, log, m); err != nil {
			return event.Position{}, fmt.Errorf("on_gap backfill of %s: %w (the checkpoint is unchanged: the next start backfills again)", table, err)
		}
	}
	log.Info("binlog gap covered: every mapped table invalidated; streaming from the recorded position", zap.Stringer("position", pos))
	return pos, nil
}

func gapBackfillTable(ctx context.Context, cfg *config.Config, table string, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) error {
	state := filepath.Join(filepath.Dir(cfg.Checkpoint.Path), "gap-"+safeFileName(table)+".json")
	// A state file left by a gap backfill that crashed: this one starts over.
	if err := removeFile(state); err != nil {
		return err
	}
	opts := backfill.Options{Table: table, Chunk: 1000, InFlight: 4, StatePath: state}
	job, err := backfill.Prepare(ctx, cfg.Source, rulePtrs(cfg), opts, log, m, backoff)
	if err != nil {
		return err
	}
	defer job.Close()
	out, closeOut, err := newKeyOutput(ctx, cfg, false, nil, job.Acker(), log, m)
	if err != nil {
		return err
	}
	defer closeOut()
	outDone := make(chan error, 1)
	go func() { outDone <- out.Run(ctx) }()
	runErr := job.Run(ctx, out)
	out.Close()
	stats, finErr := job.Finish(ctx)
	outErr := <-outDone
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
func statementBackfill(cfg *config.Config, backoff retry.Backoff, log *zap.Logger, m *metrics.Metrics) canal.Backfill {
	log = log.Named("on_statement_dml")
	return func(ctx context.Context, tables []string) error {
		for _, table := range tables {
			if err := gapBackfillTable(ctx, cfg, table, backoff, log, m); err != nil {
				return fmt.Errorf("backfill of %s: %w", table, err)
			}
		}
		return nil
	}
}
