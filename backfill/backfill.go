package backfill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	pingcaperrors "github.com/pingcap/errors"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/retry"
)

// Job is one prepared backfill. Run reads the table and hands keys to the
// sink; the sink acknowledges batches through Acker; Finish waits for what
// was sent and records the outcome.
type Job struct {
	opts     Options
	src      config.SourceConfig
	db, name string
	log      *zap.Logger
	backoff  retry.Backoff
	now      func() time.Time

	conn                *client.Conn
	pos                 event.Position // the primary's position when the backfill started, for messages
	firstStmt, nextStmt *client.Stmt
	scan                *scan
	loc                 *time.Location // TIMESTAMP keys render in it (source.TimeZone)

	// Limiter paces reading; Prepare sets it from Options.Rate.
	Limiter Waiter
	// OnRead, if set, is called after every chunk read with the rows read
	// so far, a resumed run's earlier rows included.
	OnRead func(rows int64)

	acks     *chunkAcks
	pending  map[uint64]chunkInfo // sent, not yet finished
	state    State                // what is finished, as saved
	cursor   []any                // reading continues after this key
	sent     uint64               // chunks completely handed to the sink
	saved    uint64               // chunks folded into state
	complete bool                 // the table's last chunk was read
	stats    Stats
}

type chunkInfo struct {
	cursor []any
	rows   int64
	keys   int64
	counts keys.Counts
}

// Stats is what one run did. Rows and keys count finished chunks only:
// keys are "invalidated" once the sink acknowledged them.
type Stats struct {
	RowsRead     int64
	Rows         int64
	Keys         int64
	NullSkipped  int64
	EmptySkipped int64
	Chunks       int64
	Retries      int
	Errors       int
	Complete     bool
	Total        State // the state file's totals, earlier runs included
}

// Acker is where the sink acknowledges batches.
func (j *Job) Acker() event.Acker { return j.acks }

// Run reads chunk after chunk until the table ends, ctx ends, or reading
// fails for good. At most Options.InFlight chunks are unfinished at once:
// a crash redoes at most that many.
func (j *Job) Run(ctx context.Context, out event.Sink) error {
	if j.scan.nPK == 0 {
		return j.runWhole(ctx, out)
	}
	base := j.state.Rows
	for chunk := uint64(1); ; chunk++ {
		res, err := j.read(ctx)
		if err != nil {
			return j.stopped(ctx, err)
		}
		n := len(res.Values)
		if n == 0 {
			j.complete = true
			return nil
		}
		// Pace by the rows actually read: the next query waits for them,
		// so reads run at most one chunk ahead of the rate.
		if err := j.Limiter.WaitN(ctx, n); err != nil {
			return j.stopped(ctx, err)
		}
		info, keys := j.render(res)
		if err := j.deliver(ctx, out, base, chunk, info, keys); err != nil {
			return j.stopped(ctx, err)
		}
		j.cursor = info.cursor
		if n < j.scan.chunk {
			j.complete = true
			return nil
		}
	}
}

// deliver hands a read chunk to the sink once at most Options.InFlight
// chunks before it are unfinished; base is the rows of earlier runs.
func (j *Job) deliver(ctx context.Context, out event.Sink, base int64, chunk uint64, info chunkInfo, keys []string) error {
	j.stats.RowsRead += info.rows
	if j.OnRead != nil {
		j.OnRead(base + j.stats.RowsRead)
	}
	if chunk > j.opts.inFlight() {
		if err := j.waitFinished(ctx, chunk-j.opts.inFlight()); err != nil {
			return err
		}
	}
	return j.send(ctx, out, chunk, info, keys)
}

func (j *Job) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: stopped after %s: %w", j.opts.Table, j.where(), ctx.Err())
	}
	return err
}

func (j *Job) where() string {
	if len(j.cursor) == 0 {
		return "the start of the table"
	}
	return "primary key " + cursorText(encodeCursor(j.cursor))
}

// cursorText shows a primary key as (1, "k3"); bytes Go-quoted.
func cursorText(cv []CursorValue) string {
	if len(cv) == 0 {
		return "(none)"
	}
	parts := make([]string, len(cv))
	vals, err := decodeCursor(cv)
	for i, c := range cv {
		parts[i] = c.Value
		if err == nil && c.Kind == "bytes" {
			parts[i] = strconv.Quote(vals[i].(string))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// read runs one chunk's query, reconnecting after connection failures.
func (j *Job) read(ctx context.Context) (*mysql.Result, error) {
	var res *mysql.Result
	err := j.backoff.Do(ctx, func(ctx context.Context) error {
		if j.conn == nil {
			if err := j.reopen(ctx); err != nil {
				return err
			}
		}
		var err error
		if len(j.cursor) == 0 {
			res, err = j.firstStmt.Execute()
		} else {
			res, err = j.nextStmt.Execute(keysetArgs(j.cursor)...)
		}
		if err == nil {
			return nil
		}
		if permanentSQL(err) {
			return retry.MarkPermanent(err)
		}
		j.Close()
		j.conn = nil
		return err
	}, func(attempt int, err error, wait time.Duration) {
		j.stats.Retries++
		j.log.Warn("backfill query failed; retrying", zap.String("table", j.opts.Table), zap.String("after", j.where()),
			zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
	})
	if err != nil {
		j.stats.Errors++
		return nil, fmt.Errorf("%s: reading the chunk after %s: %w", j.opts.Table, j.where(), err)
	}
	return res, nil
}

func (j *Job) reopen(ctx context.Context) error {
	conn, err := j.connect(ctx)
	if err != nil {
		return err
	}
	j.conn = conn
	if err := j.prepareStatements(); err != nil {
		j.Close()
		j.conn = nil
		return err
	}
	return nil
}

// permanentSQL: an error the server answered with is permanent unless it
// is one of the few that a retry can fix; anything else (a broken
// connection) is worth a reconnect.
func permanentSQL(err error) bool {
	var me *mysql.MyError
	if !errors.As(err, &me) && !errors.As(pingcaperrors.Cause(err), &me) {
		return false
	}
	switch me.Code {
	case mysql.ER_LOCK_WAIT_TIMEOUT, mysql.ER_LOCK_DEADLOCK, mysql.ER_QUERY_INTERRUPTED, mysql.ER_CON_COUNT_ERROR,
		mysql.ER_SERVER_SHUTDOWN, mysql.ER_TOO_MANY_USER_CONNECTIONS,
		1927, // MariaDB: connection was killed
		1969: // MariaDB: max_statement_time exceeded
		return false
	}
	return true
}

// render turns a chunk's rows into its keys, de-duplicated within the chunk.
func (j *Job) render(res *mysql.Result) (chunkInfo, []string) {
	c := newChunkKeys(j.scan)
	for _, vals := range res.Values {
		c.row(vals)
	}
	return c.done()
}

// chunkKeys collects one chunk's keys as its rows come, de-duplicated.
type chunkKeys struct {
	scan  *scan
	image []any
	seen  map[string]struct{}
	keys  []string
	info  chunkInfo
}

func newChunkKeys(s *scan) *chunkKeys {
	return &chunkKeys{scan: s, image: make([]any, len(s.table.Columns)), seen: map[string]struct{}{}}
}

// row renders one result row; its values may be reused after it returns.
func (c *chunkKeys) row(vals []mysql.FieldValue) {
	c.info.cursor = c.scan.row(vals, c.image)
	n := c.scan.keys.RenderAll(c.image, keys.AddFunc(c.add))
	c.info.rows++
	c.info.counts.Null += n.Null
	c.info.counts.Empty += n.Empty
}

func (c *chunkKeys) add(k []byte) {
	if _, dup := c.seen[string(k)]; dup {
		return
	}
	s := string(k) // copied out of the row's buffer
	c.seen[s] = struct{}{}
	c.keys = append(c.keys, s)
}

func (c *chunkKeys) done() (chunkInfo, []string) {
	c.info.keys = int64(len(c.keys))
	return c.info, c.keys
}

func (j *Job) send(ctx context.Context, out event.Sink, chunk uint64, info chunkInfo, keys []string) error {
	j.pending[chunk] = info
	n := 0
	if len(keys) > 0 {
		n = 1
	}
	seqs := j.acks.add(chunk, n)
	if n > 0 {
		// A backfill has no binlog event: its batches are named as updates at
		// the primary's position when it started (what a Kafka message needs).
		b := &event.Batch{Seq: seqs[0], DB: j.db, Table: j.name, Op: event.OpUpdate, Rows: int(info.rows), Keys: keys,
			Pos: j.pos, CommitTime: j.now()}
		if err := out.Send(ctx, b); err != nil {
			return fmt.Errorf("%s: handing %d keys of the chunk after %s to the deleter: %w", j.opts.Table, len(keys), j.where(), err)
		}
	}
	j.sent = chunk
	return nil
}

// waitFinished waits until chunks 1…target are finished, saving the state
// as they finish.
func (j *Job) waitFinished(ctx context.Context, target uint64) error {
	for {
		if err := j.fold(); err != nil {
			return err
		}
		if j.saved >= target {
			return nil
		}
		select {
		case <-j.acks.Changed():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fold moves newly finished chunks into the state and saves it.
func (j *Job) fold() error {
	f := j.acks.Finished()
	if f <= j.saved {
		return nil
	}
	for c := j.saved + 1; c <= f; c++ {
		info := j.pending[c]
		delete(j.pending, c)
		j.stats.Rows += info.rows
		j.stats.Keys += info.keys
		j.stats.NullSkipped += int64(info.counts.Null)
		j.stats.EmptySkipped += int64(info.counts.Empty)
		j.stats.Chunks++
		j.state.Rows += info.rows
		j.state.Keys += info.keys
		j.state.NullSkipped += int64(info.counts.Null)
		j.state.EmptySkipped += int64(info.counts.Empty)
		j.state.Chunks++
		j.state.Cursor = encodeCursor(info.cursor)
	}
	j.saved = f
	return j.save()
}

func (j *Job) save() error {
	if j.opts.DryRun {
		return nil
	}
	j.state.UpdatedAt = j.now().UTC().Format(time.RFC3339Nano)
	if err := saveState(j.opts.StatePath, j.state); err != nil {
		j.stats.Errors++
		return fmt.Errorf("%s: saving progress: %w (the deletes so far are done; fix the file system and rerun with --resume)", j.opts.Table, err)
	}
	return nil
}

// Finish waits until the sink acknowledged every chunk Run handed it (the
// sink must be draining), saves the final state and returns the run's
// stats. It returns an error if the table was not read to its end.
func (j *Job) Finish(ctx context.Context) (Stats, error) {
	err := j.waitFinished(ctx, j.sent)
	if err == nil && j.complete {
		j.state.Done = true
		err = j.save()
	}
	j.stats.Complete = j.complete && err == nil
	j.stats.Total = j.state
	if err == nil && !j.complete && j.scan.nPK == 0 {
		err = fmt.Errorf("%s: stopped before the end of the table (%d rows done); it has no primary key, so it cannot resume: delete %s and run it again",
			j.opts.Table, j.state.Rows, j.opts.StatePath)
	}
	if err == nil && !j.complete {
		err = fmt.Errorf("%s: stopped before the end of the table (%d rows done in all, up to primary key %s): run again with --resume to continue",
			j.opts.Table, j.state.Rows, cursorText(j.state.Cursor))
	}
	if err != nil && !j.opts.DryRun && j.saved < j.sent {
		j.log.Warn("some chunks were not finished; --resume redoes them", zap.Uint64("unfinished_chunks", j.sent-j.saved))
	}
	return j.stats, err
}
