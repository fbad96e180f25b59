// Package backfill invalidates every cache key of a table: it pages through
// the table by primary key (keyset pagination, never OFFSET), renders each
// row's keys with the tailer's own renderer (package keys), and hands them to a sink (the
// Redis deleter, or a printer for --dry-run). Progress is kept in a small
// state file after every finished chunk, so a stopped or crashed backfill
// resumes where it was. A table without a primary key is read in one
// streaming query instead (whole.go), which cannot resume.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

// Options is one backfill. The zero value of each optional field has a default.
type Options struct {
	Table     string  // db.table, exactly (no pattern)
	Where     string  // optional SQL condition on the table's rows
	Chunk     int     // rows per query; default 1000 (lowered to Rate when that is smaller)
	Rate      float64 // rows per second; 0 means no limit
	InFlight  int     // chunks whose deletes may be in flight at once; default 1
	StatePath string  // resume file; required unless DryRun
	Resume    bool    // continue after the last finished chunk in StatePath
	DryRun    bool    // list keys only: the state file is read but never written
}

func (o Options) chunk() int {
	c := o.Chunk
	if c <= 0 {
		c = 1000
	}
	if o.Rate > 0 && float64(c) > o.Rate {
		c = max(1, int(o.Rate)) // about one query a second rather than a burst every few
	}
	return c
}

func (o Options) inFlight() uint64 {
	if o.InFlight <= 0 {
		return 1
	}
	return uint64(o.InFlight)
}

// Waiter is the rate limiter: WaitN blocks until n more rows may be read.
type Waiter interface {
	WaitN(ctx context.Context, n int) error
}

// ErrAlreadyDone is returned by Prepare with Resume when the state file
// records a finished backfill: there is nothing to continue.
var ErrAlreadyDone = errors.New("backfill already finished")

// Prepare checks everything that can be checked before a key is deleted —
// the table has a rule, exists, has a primary key, every template column
// exists, the server accepts --where, the state file fits — and returns a
// job ready to Run. Its connection stays open for the run; Close it.
func Prepare(ctx context.Context, src config.SourceConfig, rules []*config.Rule, opts Options,
	log *zap.Logger, m *metrics.Metrics, backoff retry.Backoff) (*Job, error) {
	db, name, ok := strings.Cut(opts.Table, ".")
	if !ok || db == "" || name == "" || strings.ContainsAny(name, "*?") {
		return nil, fmt.Errorf("--table %q: give one table as db.table", opts.Table)
	}
	var matched []*config.Rule
	for _, r := range rules {
		if r.Matches(db, name) {
			matched = append(matched, r)
		}
	}
	if len(matched) == 0 {
		return nil, fmt.Errorf("--table %s: no rule in the config maps this table, so it has no keys to invalidate: add a rule for it first", opts.Table)
	}
	if !opts.DryRun && opts.StatePath == "" {
		return nil, errors.New("backfill needs a state file path to be resumable")
	}
	j := &Job{opts: opts, src: src, db: db, name: name, log: log, backoff: backoff, acks: newChunkAcks(),
		pending: map[uint64]chunkInfo{}, now: time.Now}
	if err := j.loadState(); err != nil {
		return nil, err
	}
	conn, err := j.connect(ctx)
	if err != nil {
		return nil, err
	}
	j.conn = conn
	// Without REPLICATION CLIENT there is no position to name; the
	// messages then say "backfill" (only a Kafka message needs one).
	j.pos = event.Position{File: "backfill"}
	if pos, err := source.MasterPosition(conn, src); err == nil && pos.File != "" {
		j.pos = pos
	}
	if err := j.compile(conn, matched, m); err != nil {
		conn.Close()
		return nil, err
	}
	if err := j.prepareStatements(); err != nil {
		conn.Close()
		return nil, err
	}
	j.Limiter = newLimiter(opts.Rate, opts.chunk())
	return j, nil
}

func newLimiter(perSecond float64, burst int) Waiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, burst)
	}
	l := rate.NewLimiter(rate.Limit(perSecond), burst)
	l.AllowN(time.Now(), burst) // start empty: no initial burst above the rate
	return l
}

// loadState applies the resume rules: --resume needs an unfinished state
// for the same table and --where; without --resume an unfinished one is
// refused rather than overwritten.
func (j *Job) loadState() error {
	if j.opts.StatePath == "" || (j.opts.DryRun && !j.opts.Resume) {
		j.state = State{Version: stateVersion, Table: j.opts.Table, Where: j.opts.Where, StartedAt: j.now().UTC().Format(time.RFC3339)}
		return nil
	}
	st, ok, err := loadState(j.opts.StatePath)
	if err != nil {
		return err
	}
	switch {
	case j.opts.Resume && !ok:
		return fmt.Errorf("--resume: there is no state file %s: run without --resume to start the backfill", j.opts.StatePath)
	case ok && (st.Table != j.opts.Table || st.Where != j.opts.Where):
		return fmt.Errorf("state file %s belongs to a backfill of %s with --where %q, not of %s with --where %q: pass the same --table and --where, or another --state",
			j.opts.StatePath, st.Table, st.Where, j.opts.Table, j.opts.Where)
	case j.opts.Resume && st.Done:
		return fmt.Errorf("%w: %s finished at %s (%d rows): run without --resume to start over", ErrAlreadyDone, st.Table, st.UpdatedAt, st.Rows)
	case !j.opts.Resume && ok && !st.Done:
		return fmt.Errorf("an unfinished backfill of %s is recorded in %s (%d rows done, last update %s): pass --resume to continue it, or delete the file to start over",
			st.Table, j.opts.StatePath, st.Rows, st.UpdatedAt)
	}
	if j.opts.Resume {
		cur, err := decodeCursor(st.Cursor)
		if err != nil {
			return fmt.Errorf("state file %s: %w: delete it to start over", j.opts.StatePath, err)
		}
		j.state, j.cursor = st, cur
		return nil
	}
	j.state = State{Version: stateVersion, Table: j.opts.Table, Where: j.opts.Where, StartedAt: j.now().UTC().Format(time.RFC3339)}
	return nil
}

// connect opens the scan connection, read-only so a --where cannot write.
// TIMESTAMP is read in UTC and rendered in Go in the zone the application
// sees (source.TimeZone, read first), exactly as the tailer's decoder does.
func (j *Job) connect(ctx context.Context) (*client.Conn, error) {
	conn, err := source.Connect(ctx, j.src)
	if err != nil {
		return nil, err
	}
	loc, note, err := source.TimeZoneOn(conn, j.src)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if note != "" {
		j.log.Warn(note)
	}
	j.loc = loc
	for _, q := range []string{"SET time_zone = '+00:00'", "SET SESSION TRANSACTION READ ONLY"} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("source: %s: %w", q, err)
		}
	}
	return conn, nil
}

func (j *Job) compile(conn *client.Conn, rules []*config.Rule, m *metrics.Metrics) error {
	t, err := source.LoadTable(conn, j.db, j.name)
	if err != nil {
		return fmt.Errorf("--table %s: %w", j.opts.Table, err)
	}
	if len(t.PKColumns) == 0 && j.opts.Resume {
		return fmt.Errorf("--table %s has no primary key, so its backfill is one query that cannot resume: delete %s and run it again without --resume",
			j.opts.Table, j.opts.StatePath)
	}
	kt, err := keys.CompileStrict(t, rules, m)
	if err != nil {
		return fmt.Errorf("--table %s: %w", j.opts.Table, err)
	}
	j.scan = newScan(t, kt, j.opts.Where, j.opts.chunk())
	j.scan.loc = j.loc
	if len(j.cursor) != 0 && len(j.cursor) != len(t.PKColumns) {
		return fmt.Errorf("state file %s has a %d-column cursor, but %s's primary key has %d columns now: delete it to start over",
			j.opts.StatePath, len(j.cursor), j.opts.Table, len(t.PKColumns))
	}
	return nil
}

// prepareStatements has the server parse and resolve both queries, which
// is where a bad --where shows.
func (j *Job) prepareStatements() error {
	var err error
	if j.firstStmt, err = j.conn.Prepare(j.scan.first); err != nil {
		if j.opts.Where != "" {
			// The server quotes the query, newline included: keep the message on one line.
			return fmt.Errorf("--where %q: the server rejects it: %s", j.opts.Where, strings.Join(strings.Fields(err.Error()), " "))
		}
		return fmt.Errorf("%s: preparing the scan query: %w", j.opts.Table, err)
	}
	if j.scan.nPK == 0 {
		return nil // read in one query (whole.go)
	}
	if j.nextStmt, err = j.conn.Prepare(j.scan.next); err != nil {
		return fmt.Errorf("%s: preparing the scan query: %w", j.opts.Table, err)
	}
	return nil
}

// EstimatedRows is the server's estimate of the rows still to read (from
// the table statistics; -1 when unknown, as with --where).
func (j *Job) EstimatedRows() int64 {
	if j.opts.Where != "" {
		return -1
	}
	r, err := j.conn.Execute("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", j.db, j.name)
	if err != nil || r.RowNumber() == 0 {
		return -1
	}
	n, err := r.GetInt(0, 0)
	if err != nil {
		return -1
	}
	return max(n, j.state.Rows)
}

// Close releases the scan connection.
func (j *Job) Close() {
	if j.conn != nil {
		j.conn.Close()
	}
}
