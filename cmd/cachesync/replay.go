package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/progress"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/source"
)

const replayUsage = `Usage: cachesync replay --config FILE --from X [--to Y] [--tables db.t,...] [--dry-run] [--direct]

Re-reads a range of the binlog and invalidates the keys its row changes
feed, with the same rules as run (before and after images, watch lists,
patterns). The range is half-open: transactions that start at or after
--from and end at or before --to. X and Y are each
  a binlog position   mysql-bin.000042:1337 (as SHOW MASTER STATUS prints it)
  a GTID set          0-1-123 (MariaDB) or uuid:1-42 (MySQL): the transactions
                      after the set, as in @@gtid_binlog_pos / @@gtid_executed
  an RFC3339 time     2026-11-26T10:00:00Z: the first transaction at or after it
                      (whole seconds, as the binlog records them)
Without --to the replay ends at the primary's position when it starts.

It reads the binlog as a replica of its own (--server-id, default
source.server_id plus a random offset) and never reads or writes run's
checkpoint. Keys go where run sends them: with
transport.kind: kafka they are published to the topic (the consumers delete
them), else deleted straight from Redis (UNLINK, and again after
delete.second_delay); --direct deletes from Redis whatever the transport.
--dry-run deletes nothing: it prints each
key, Go-quoted, one per line on stdout, and the totals on stderr.

Exit status: 0 when every key was invalidated, 1 otherwise or on bad input, 2 on bad flags.

Flags:
`

type replayFlags struct {
	oneShotFlags
	from, to, tables string
	serverID         uint
}

func parseReplayFlags(args []string, stderr io.Writer) (replayFlags, error) {
	var f replayFlags
	fs := f.flagSet("replay", replayUsage, stderr, "print the keys instead of deleting them")
	fs.StringVar(&f.from, "from", "", "start of the range: file:pos, GTID set or RFC3339 time (required)")
	fs.StringVar(&f.to, "to", "", "end of the range (exclusive); default: the primary's position now")
	fs.StringVar(&f.tables, "tables", "", "only these tables, comma-separated db.table names (each must have a rule)")
	fs.UintVar(&f.serverID, "server-id", 0, "replica server_id for reading the binlog; default source.server_id + a random offset")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if f.from == "" {
		return f, &exitError{code: 2, err: errors.New("replay: --from is required (a binlog file:pos, a GTID set or an RFC3339 time)")}
	}
	return f, nil
}

// run is `cachesync replay` once its flags, logger and config are set up.
func (f replayFlags) run(soft, hard context.Context, log *zap.Logger, cfg *config.Config, stdout, stderr io.Writer) error {
	tables, err := replayTables(cfg, f.tables)
	if err != nil {
		return err
	}
	src := cfg.Source
	src.ServerID, err = replayServerID(cfg.Source.ServerID, f.serverID)
	if err != nil {
		return err
	}
	if err := source.Preflight(soft, src); err != nil {
		return err
	}
	rng, err := canal.ResolveRange(soft, src, f.from, f.to, log.Named("replay"))
	if err != nil {
		return err
	}
	log.Info("replaying", zap.Stringer("from", rng.From), zap.Stringer("to", rng.To), zap.Strings("tables", tables),
		zap.Uint32("server_id", src.ServerID), zap.Bool("dry_run", f.dryRun))
	return runReplay(soft, hard, cfg, src, rng, tables, f.dryRun, stdout, stderr, log)
}

func runReplay(soft, hard context.Context, cfg *config.Config, src config.SourceConfig, rng canal.Range, tables []string,
	dryRun bool, stdout, stderr io.Writer, log *zap.Logger) error {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	tracker := checkpoint.NewTracker(event.Position{})
	out, release, err := pipeline.NewOutput(soft, cfg, tracker, outputOptions(dryRun, stdout), pipeline.Deps{Log: log, Metrics: m})
	if err != nil {
		return err
	}
	defer release()
	rep := startProgress(stderr, log, "replay", "bytes", func() (int64, int64) {
		p, _ := tracker.Safe()
		return rng.Bytes(p)
	})
	began := time.Now()
	backoff := cfg.Retry.Backoff()
	r := canal.NewReplayer(src, pipeline.RulePtrs(cfg), tables, out, tracker, log.Named("replay"), m, backoff)
	r.RowIdentity = cfg.Transport.Kind == "kafka" && cfg.Transport.Kafka.Message == "row"
	r.WriteThrough = true // both transports carry event.Batch.Sets
	// run's schema history, read only: rows of the range that predate a later
	// migration decode with their own columns when it still covers them.
	if h, err := pipeline.SchemaHistory(soft, cfg); err == nil {
		r.History = h
	} else {
		log.Warn("ignoring the schema history; rows older than a DDL decode with today's schema", zap.Error(err))
	}
	runErr, _, outErr := pipeline.Feed(hard, out, func() error { return r.Run(soft, rng) }, nil)
	rep.Stop()

	s := replaySummary(reg, rng, cfg, out, time.Since(began))
	unfinished := tracker.InFlight()
	if unfinished > 0 {
		s.errors++
		runErr = errors.Join(runErr, fmt.Errorf("%d batches of keys were not invalidated: run the replay again", unfinished))
	}
	if runErr != nil || outErr != nil {
		s.errors++
	}
	s.write(stderr)
	if err := errors.Join(runErr, outErr); err != nil {
		return err
	}
	if s.errors > 0 {
		return fmt.Errorf("replay finished with %d errors (see the log above): some keys may not be invalidated", s.errors)
	}
	return nil
}

// replayTables checks --tables: exact db.table names, each mapped by a rule.
func replayTables(cfg *config.Config, list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out, bad []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		db, name, ok := strings.Cut(t, ".")
		if !ok || db == "" || name == "" {
			return nil, fmt.Errorf("--tables: %q is not db.table", t)
		}
		if len(cfg.RulesFor(db, name)) == 0 {
			bad = append(bad, t)
		}
		out = append(out, t)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("--tables: no rule maps %s: these tables have no keys to invalidate; check the names against the config's rules", strings.Join(bad, ", "))
	}
	return out, nil
}

// replayServerID is --server-id, or source.server_id plus a random offset
// so a replay never disconnects the running tailer (same id) or another replay.
func replayServerID(tailer uint32, flagID uint) (uint32, error) {
	if flagID != 0 {
		if flagID > 1<<32-1 || uint32(flagID) == tailer {
			return 0, fmt.Errorf("--server-id %d: must fit 32 bits and differ from source.server_id %d (the running tailer's)", flagID, tailer)
		}
		return uint32(flagID), nil
	}
	for {
		id := tailer + 1 + uint32(rand.IntN(1000))
		if id != 0 && id != tailer {
			return id, nil
		}
	}
}

func startProgress(stderr io.Writer, log *zap.Logger, what, unit string, poll func() (int64, int64)) *progress.Reporter {
	cfg := progress.Config{What: what, Unit: unit, Log: log, Poll: poll}
	if progress.IsTerminal(stderr) {
		cfg.Bar = stderr
	}
	return progress.Start(cfg)
}

// summary is the report a replay or backfill ends with, on stderr.
type summary struct {
	title  string
	rows   [][2]string
	errors int
}

func (s *summary) add(name string, v any) { s.rows = append(s.rows, [2]string{name, fmt.Sprint(v)}) }

func (s *summary) write(w io.Writer) {
	fmt.Fprintln(w, s.title)
	for _, r := range s.rows {
		fmt.Fprintf(w, "  %-26s %s\n", r[0], r[1])
	}
	fmt.Fprintf(w, "  %-26s %d\n", "errors", s.errors)
}

func replaySummary(reg *prometheus.Registry, rng canal.Range, cfg *config.Config, out event.Output, elapsed time.Duration) *summary {
	s := &summary{title: fmt.Sprintf("cachesync replay %s", rng)}
	s.add("rows read", counterSum(reg, "cachesync_binlog_rows_total", ""))
	if p, ok := out.(*sink.Printer); ok {
		s.title += " (dry run: nothing deleted)"
		s.add("keys listed", p.Printed())
	} else if cfg.Transport.Kind == "kafka" {
		s.title += " (published to kafka)"
		s.add("keys published", counterSum(reg, "cachesync_keys_emitted_total", ""))
	} else {
		s.add("keys invalidated", counterSum(reg, "cachesync_keys_invalidated_total", "first"))
	}
	s.add("keys skipped for NULL", counterSum(reg, "cachesync_keys_null_skipped_total", ""))
	s.add("keys skipped, empty", counterSum(reg, "cachesync_keys_empty_skipped_total", ""))
	s.add("updates skipped by watch", counterSum(reg, "cachesync_watch_skipped_rows_total", ""))
	missing := counterSum(reg, "cachesync_template_column_missing_total", "")
	mismatch := counterSum(reg, "cachesync_schema_mismatch_events_total", "")
	if missing > 0 || mismatch > 0 {
		s.add("keys not rendered", fmt.Sprintf("%d (template column missing) / %d events decoded with a different schema", missing, mismatch))
	}
	s.errors += int(missing + mismatch)
	s.add("elapsed", elapsed.Round(time.Millisecond))
	return s
}

// counterSum adds up a counter over all its label values, or only those
// whose phase label is phase.
func counterSum(reg *prometheus.Registry, name, phase string) int64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if phase != "" && !hasLabel(m.GetLabel(), "phase", phase) {
				continue
			}
			total += m.GetCounter().GetValue()
		}
	}
	return int64(total)
}

func hasLabel[L interface {
	GetName() string
	GetValue() string
}](labels []L, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
