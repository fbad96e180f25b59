package backfill

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/event"
)

// wholeWriteTimeout is the scan connection's net_write_timeout for a
// one-query read: the server must wait for as long as the deleter holds the
// reader back (Redis down), not drop the query after its default 60 s.
const wholeWriteTimeout = 24 * 60 * 60

// runWhole reads a table that has no primary key in one streaming query:
// there is no key to page by. Rows are rendered as they arrive and handed
// on in chunks of Options.Chunk rows, with the same pacing, in-flight bound
// and acknowledgements as paged chunks, so memory stays bounded; the
// query's snapshot covers every row there was when it started. It cannot
// resume: after a failure the whole table is read again.
func (j *Job) runWhole(ctx context.Context, out event.Sink) error {
	if _, err := j.conn.Execute(fmt.Sprintf("SET SESSION net_write_timeout = %d", wholeWriteTimeout)); err != nil {
		return fmt.Errorf("%s: SET net_write_timeout: %w", j.opts.Table, err)
	}
	var chunk uint64
	c := newChunkKeys(j.scan)
	flush := func() error {
		if c.info.rows == 0 {
			return nil
		}
		chunk++
		if err := j.Limiter.WaitN(ctx, int(c.info.rows)); err != nil {
			return err
		}
		info, keys := c.done()
		c = newChunkKeys(j.scan)
		return j.deliver(ctx, out, 0, chunk, info, keys)
	}
	var res mysql.Result
	err := j.firstStmt.ExecuteSelectStreaming(&res, func(row []mysql.FieldValue) error {
		c.row(row)
		if c.info.rows >= int64(j.scan.chunk) {
			return flush()
		}
		return nil
	}, nil)
	if err == nil {
		err = flush()
	}
	if err != nil {
		j.stats.Errors++
		return j.stopped(ctx, fmt.Errorf("%s (no primary key: read in one query, which cannot resume; run the backfill again): after %d rows: %w",
			j.opts.Table, j.stats.RowsRead, err))
	}
	j.complete = true
	return nil
}
