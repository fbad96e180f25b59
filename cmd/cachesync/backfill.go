package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/backfill"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
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
	config, table, where, state, logFormat, logLevel string
	chunk, inFlight                                  int
	rate                                             float64
	resume, dryRun, direct                           bool
}

func parseBackfillFlags(args []string, stderr io.Writer) (backfillFlags, error) {
	var f backfillFlags
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backfillUsage); fs.PrintDefaults() }
	fs.StringVar(&f.config, "config", "cachesync.yaml", "config file")
	fs.StringVar(&f.table, "table", "", "the table, db.table (required; a rule must map it)")
	fs.StringVar(&f.where, "where", "", "only rows matching this SQL condition")
	fs.IntVar(&f.chunk, "chunk", 1000, "rows per query")
	fs.Float64Var(&f.rate, "rate", 0, "at most this many rows per second (0: no limit)")
	fs.IntVar(&f.inFlight, "in-flight", 1, "chunks whose deletes may be unfinished at once; a crash redoes at most this many")
	fs.StringVar(&f.state, "state", "", "state file for --resume (default: backfill-DB.TABLE.json next to checkpoint.path)")
	fs.BoolVar(&f.resume, "resume", false, "continue after the last finished chunk in the state file")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the keys instead of deleting them (the state file is not written)")
	fs.BoolVar(&f.direct, "direct", false, "delete straight from Redis even if transport.kind is kafka")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, errHelp
		}
		return f, &exitError{code: 2, err: err}
	}
	switch {
	case f.table == "":
		return f, &exitError{code: 2, err: errors.New("backfill: --table is required (db.table)")}
	case f.chunk <= 0 || f.inFlight <= 0 || f.rate < 0:
		return f, &exitError{code: 2, err: errors.New("backfill: --chunk and --in-flight must be positive and --rate not negative")}
	case fs.NArg() > 0:
		return f, &exitError{code: 2, err: fmt.Errorf("backfill: unexpected argument %q", fs.Arg(0))}
	}
	return f, nil
}

func cmdBackfill(soft, hard context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBackfillFlags(args, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, cfg, err := setupOneShot(f.config, f.logFormat, f.logLevel, f.direct || f.dryRun)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr sync errors are not actionable
	opts := backfill.Options{Table: f.table, Where: f.where, Chunk: f.chunk, Rate: f.rate, InFlight: f.inFlight,
		StatePath: f.state, Resume: f.resume, DryRun: f.dryRun}
	if opts.StatePath == "" {
		opts.StatePath = filepath.Join(filepath.Dir(cfg.Checkpoint.Path), "backfill-"+safeFileName(f.table)+".json")
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	backoff := cfg.Retry.Backoff()
	backoff.MaxElapsed = 2 * time.Minute
	job, err := backfill.Prepare(soft, cfg.Source, rulePtrs(cfg), opts, log.Named("backfill"), m, backoff)
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
	out, closeOut, err := newKeyOutput(soft, cfg, opts.DryRun, stdout, job.Acker(), log, m)
	if err != nil {
		return err
	}
	defer closeOut()
	outDone := make(chan error, 1)
	go func() { outDone <- out.Run(hard) }()

	var read atomic.Int64
	total := job.EstimatedRows()
	job.OnRead = func(n int64) { read.Store(n) }
	rep := startProgress(stderr, log, "backfill "+opts.Table, "rows", func() (int64, int64) { return read.Load(), total })
	began := time.Now()
	runErr := job.Run(soft, out)
	reading := time.Since(began) // the rate applies to reading; draining the deletes follows
	if soft.Err() != nil && errors.Is(runErr, context.Canceled) {
		runErr = nil // Finish says where it stopped and how to resume
	}
	out.Close() // the deleter drains, second deletes included, acknowledging as it goes
	stats, finErr := job.Finish(hard)
	outErr := <-outDone
	rep.Stop()

	elapsed := time.Since(began)
	s := backfillSummary(opts, stats, out, reading, elapsed)
	if outErr != nil && stats.Errors == 0 {
		s.errors++
	}
	s.write(stderr)
	log.Info("backfill finished", zap.String("table", opts.Table), zap.Int64("rows_read", stats.RowsRead),
		zap.Int64("keys", stats.Keys), zap.Int64("null_skipped", stats.NullSkipped), zap.Int("errors", s.errors),
		zap.Float64("rows_per_second", perSecond(stats.RowsRead, reading)), zap.Duration("elapsed", elapsed), zap.Bool("complete", stats.Complete))
	return errors.Join(runErr, outErr, finErr)
}

func backfillSummary(opts backfill.Options, st backfill.Stats, out keyOutput, reading, elapsed time.Duration) *summary {
	s := &summary{title: "cachesync backfill " + opts.Table, errors: st.Errors}
	if opts.Where != "" {
		s.title += " where " + opts.Where
	}
	s.add("rows read", st.RowsRead)
	if p, ok := out.(*keyPrinter); ok {
		s.title += " (dry run: nothing deleted)"
		s.add("keys listed", p.printed())
	} else if _, ok := out.(kafkaOutput); ok {
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

// safeFileName keeps a table name usable as part of a file name.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}
