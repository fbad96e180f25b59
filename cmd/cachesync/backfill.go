package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/backfill"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/sink"
)

const backfillUsage = `Usage: cachesync backfill --config FILE --table db.t [--where SQL] [--chunk 1000] [--rate N] [--resume] [--dry-run]

Invalidates every key the table's rules render, row by row: after adding a
rule for an existing table, after a cache was filled from a bad source, or
when the binlog needed for a replay is gone. It reads the table in primary
key order (keyset pagination; composite keys too), one short query per
chunk, and renders the keys exactly as run does.

Progress is saved in a state file (--state, written after every finished
chunk); after a crash or Ctrl-C, --resume continues after the last finished
chunk, redoing at most --in-flight chunks. --rate limits rows per second.
Keys go where run sends them: with
transport.kind: kafka they are published to the topic (the consumers delete
them), else deleted straight from Redis (UNLINK, and again after
delete.second_delay); --direct deletes from Redis whatever the transport.
--dry-run deletes nothing: it prints each
key, Go-quoted, one per line on stdout, and the totals on stderr.

Exit status: 0 when every row's keys were invalidated, 1 otherwise or on bad input, 2 on bad flags.

Flags:
`

type backfillFlags struct {
	oneShotFlags
	table, where, state string
	chunk, inFlight     int
	rate                float64
	resume              bool
}

func parseBackfillFlags(args []string, stderr io.Writer) (backfillFlags, error) {
	var f backfillFlags
	fs := f.flagSet("backfill", backfillUsage, stderr, "print the keys instead of deleting them (the state file is not written)")
	fs.StringVar(&f.table, "table", "", "the table, db.table (required; a rule must map it)")
	fs.StringVar(&f.where, "where", "", "only rows matching this SQL condition")
	fs.IntVar(&f.chunk, "chunk", 1000, "rows per query")
	fs.Float64Var(&f.rate, "rate", 0, "at most this many rows per second (0: no limit)")
	fs.IntVar(&f.inFlight, "in-flight", 1, "chunks whose deletes may be unfinished at once; a crash redoes at most this many")
	fs.StringVar(&f.state, "state", "", "state file for --resume (default: backfill-DB.TABLE.json next to checkpoint.path)")
	fs.BoolVar(&f.resume, "resume", false, "continue after the last finished chunk in the state file")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.table == "":
		return f, &exitError{code: 2, err: errors.New("backfill: --table is required (db.table)")}
	case f.chunk <= 0 || f.inFlight <= 0 || f.rate < 0:
		return f, &exitError{code: 2, err: errors.New("backfill: --chunk and --in-flight must be positive and --rate not negative")}
	}
	return f, nil
}

// run is `cachesync backfill` once its flags, logger and config are set up.
func (f backfillFlags) run(soft, hard context.Context, log *zap.Logger, cfg *config.Config, stdout, stderr io.Writer) error {
	opts := backfill.Options{Table: f.table, Where: f.where, Chunk: f.chunk, Rate: f.rate, InFlight: f.inFlight,
		StatePath: f.state, Resume: f.resume, DryRun: f.dryRun}
	if opts.StatePath == "" {
		opts.StatePath = pipeline.StatePath(cfg, "backfill", f.table)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	backoff := cfg.Retry.Backoff()
	backoff.MaxElapsed = 2 * time.Minute
	job, err := backfill.Prepare(soft, cfg.Source, pipeline.RulePtrs(cfg), opts, log.Named("backfill"), m, backoff)
	if errors.Is(err, backfill.ErrAlreadyDone) {
		fmt.Fprintf(stderr, "cachesync backfill: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	defer job.Close()
	log.Info("backfill starting", zap.String("table", f.table), zap.String("where", f.where), zap.Int("chunk", f.chunk),
		zap.Float64("rate", f.rate), zap.Bool("resume", f.resume), zap.Bool("dry_run", f.dryRun), zap.String("state", opts.StatePath))
	return runBackfill(soft, hard, cfg, job, opts, stdout, stderr, log, m)
}

func runBackfill(soft, hard context.Context, cfg *config.Config, job *backfill.Job, opts backfill.Options,
	stdout, stderr io.Writer, log *zap.Logger, m *metrics.Metrics) error {
	out, release, err := pipeline.NewOutput(soft, cfg, job.Acker(), outputOptions(opts.DryRun, stdout), pipeline.Deps{Log: log, Metrics: m})
	if err != nil {
		return err
	}
	defer release()
	var read atomic.Int64
	total := job.EstimatedRows()
	job.OnRead = func(n int64) { read.Store(n) }
	rep := startProgress(stderr, log, "backfill "+opts.Table, "rows", func() (int64, int64) { return read.Load(), total })
	began := time.Now()
	var reading time.Duration // the rate applies to reading; draining the deletes follows
	var stats backfill.Stats
	runErr, finErr, outErr := pipeline.Feed(hard, out, func() error {
		err := job.Run(soft, out)
		reading = time.Since(began)
		if soft.Err() != nil && errors.Is(err, context.Canceled) {
			err = nil // Finish says where it stopped and how to resume
		}
		return err
	}, func() (err error) {
		stats, err = job.Finish(hard) // the output drains, second deletes included, acknowledging as it goes
		return err
	})
	rep.Stop()

	elapsed := time.Since(began)
	s := backfillSummary(opts, stats, cfg, out, reading, elapsed)
	if outErr != nil && stats.Errors == 0 {
		s.errors++
	}
	s.write(stderr)
	log.Info("backfill finished", zap.String("table", opts.Table), zap.Int64("rows_read", stats.RowsRead),
		zap.Int64("keys", stats.Keys), zap.Int64("null_skipped", stats.NullSkipped), zap.Int("errors", s.errors),
		zap.Float64("rows_per_second", perSecond(stats.RowsRead, reading)), zap.Duration("elapsed", elapsed), zap.Bool("complete", stats.Complete))
	return errors.Join(runErr, outErr, finErr)
}

func backfillSummary(opts backfill.Options, st backfill.Stats, cfg *config.Config, out event.Output, reading, elapsed time.Duration) *summary {
	s := &summary{title: "cachesync backfill " + opts.Table, errors: st.Errors}
	if opts.Where != "" {
		s.title += " where " + opts.Where
	}
	s.add("rows read", st.RowsRead)
	if p, ok := out.(*sink.Printer); ok {
		s.title += " (dry run: nothing deleted)"
		s.add("keys listed", p.Printed())
	} else if cfg.Transport.Kind == "kafka" {
		s.title += " (published to kafka)"
		s.add("keys published", st.Keys)
	} else {
		s.add("keys invalidated", st.Keys)
	}
	s.add("keys skipped for NULL", st.NullSkipped)
	s.add("keys skipped, empty", st.EmptySkipped)
	s.add("chunks", st.Chunks)
	if st.Retries > 0 {
		s.add("queries retried", st.Retries)
	}
	s.add("rows per second", fmt.Sprintf("%.1f (reading took %s)", perSecond(st.RowsRead, reading), reading.Round(time.Millisecond)))
	s.add("elapsed", elapsed.Round(time.Millisecond))
	if !opts.DryRun {
		s.add("all runs so far", fmt.Sprintf("%d rows, %d keys (state %s)", st.Total.Rows, st.Total.Keys, opts.StatePath))
	}
	if !st.Complete {
		s.add("complete", "NO: run again with --resume")
	}
	return s
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
