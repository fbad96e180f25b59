package canal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// Changes of a mapped table the binlog holds but cachesync cannot turn into
// keys: statements (binlog_format STATEMENT or MIXED) and row images without
// a template or watch column (binlog_row_image MINIMAL or NOBLOB). Start-up
// refuses both settings; these are the sessions that got them later. Each
// is logged, counted, and handled by source.on_statement_dml: fail (the
// checkpoint stays before it) or backfill (scan the tables, then go on).

// UnsafeBinlogError stops the tailer at a change it cannot invalidate
// (source.on_statement_dml: fail). It is never retried: the same event
// would come again.
type UnsafeBinlogError struct {
	Tables []string
	Pos    event.Position
	What   string // what was found, and the fix
}

func (e *UnsafeBinlogError) Error() string {
	return fmt.Sprintf("%s, in the binlog event ending at %s (tables %s): %s. The checkpoint stays before it. "+
		"Way out: set it back for good (SET GLOBAL and my.cnf) and restart; then run `cachesync backfill --table T` for each table named, "+
		"since these changes' keys were not invalidated — or set source.on_statement_dml: backfill to do that automatically",
		"a change cachesync cannot turn into keys", e.Pos, strings.Join(e.Tables, ", "), e.What)
}

// Backfill, if set on the Tailer, invalidates every key of the named tables
// (db.table) by scanning them; source.on_statement_dml: backfill uses it.
type Backfill func(ctx context.Context, tables []string) error

// binlogMode is the handler's state for these checks; it outlives
// reconnects.
type binlogMode struct {
	sql          *client.Conn   // reads statements back (statementAt)
	backfilledAt event.Position // the last change on_statement_dml backfilled
}

// unsafeChange applies source.on_statement_dml to a change of tables at pos.
func (h *handler) unsafeChange(tables []string, pos event.Position, what string) error {
	h.t.log.Error("the binlog holds a change of a mapped table that cachesync cannot turn into keys: "+what,
		zap.Strings("tables", tables), zap.Stringer("position", pos), zap.String("on_statement_dml", h.t.cfg.OnStatementDML))
	if h.t.cfg.OnStatementDML != "backfill" || h.t.Backfill == nil {
		return &UnsafeBinlogError{Tables: tables, Pos: pos, What: what}
	}
	if h.mode.backfilledAt == pos {
		return nil // backfilled before a reconnect brought the event again
	}
	if err := h.t.Backfill(h.ctx, tables); err != nil {
		return fmt.Errorf("on_statement_dml backfill of %s for the change at %s: %w (retried from the last transaction boundary)", strings.Join(tables, ", "), pos, err)
	}
	h.mode.backfilledAt = pos
	h.t.log.Info("tables invalidated by backfill (source.on_statement_dml: backfill); streaming on",
		zap.Strings("tables", tables), zap.Stringer("position", pos))
	return nil
}

// checkStatement looks at a query event canal passed on without calling
// it DDL (force false): COMMIT of a non-transactional group, GRANT, ... or
// DML written as a statement. canal does not hand over the text, so it is
// read back with SHOW BINLOG EVENTS (rare in ROW format: one per such event).
func (h *handler) checkStatement(hdr *replication.EventHeader, file string) error {
	if hdr.EventType != replication.QUERY_EVENT || hdr.LogPos < hdr.EventSize {
		return nil
	}
	pos := event.Position{File: file, Pos: hdr.LogPos}
	ev, readErr := h.statementAt(file, hdr.LogPos-hdr.EventSize)
	var eff stmtEffect
	switch {
	case readErr != nil && source.ErrorCode(readErr) == 0:
		// No answer (the connection broke, the server is unreachable): the
		// statement is not known to be DML. Read it again after reconnecting.
		return fmt.Errorf("reading back the statement of the binlog event ending at %s: %w (retried from the last transaction boundary)", pos, readErr)
	case readErr != nil:
		h.t.log.Warn("cannot read a statement back from the binlog to tell whether it changed a mapped table; treating it as one that did",
			zap.Stringer("position", pos), zap.Error(readErr))
		eff = stmtEffect{dml: true, unnamed: true}
	case ev.typ != "Query":
		return nil
	default:
		eff = classifyStatement(ev.info, "", h.t.rules)
	}
	if !eff.affects(h.t.rules) {
		return nil
	}
	tables := eff.tables
	if len(tables) == 0 {
		var err error
		if tables, err = h.mappedTablesIn(eff.schema); err != nil {
			return err
		}
	}
	for _, t := range tables {
		h.t.metrics.StatementDML.WithLabelValues(t).Inc()
	}
	what := "DML written as a statement (binlog_format STATEMENT or MIXED in the writing session), so its rows are not in the binlog: " +
		"SET GLOBAL binlog_format=ROW (and in my.cnf; sessions opened since the change keep theirs until they reconnect)"
	if readErr != nil {
		what = fmt.Sprintf("a statement that could not be read back (%v; the user needs REPLICATION CLIENT / BINLOG MONITOR) and may be DML written as a statement: "+
			"check binlog_format=ROW", readErr)
	}
	return h.unsafeChange(tables, pos, what)
}

// statementAt reads the event starting at file:start on a connection of its
// own, kept for the next one.
func (h *handler) statementAt(file string, start uint32) (binlogEvent, error) {
	for attempt := 0; ; attempt++ {
		if h.mode.sql == nil {
			c, err := source.Connect(h.ctx, h.t.cfg)
			if err != nil {
				return binlogEvent{}, err
			}
			h.mode.sql = c
		}
		ev, err := eventAt(h.mode.sql, event.Position{File: file, Pos: start})
		if err == nil || attempt > 0 || source.ErrorCode(err) != 0 {
			return ev, err
		}
		h.closeSQL() // a broken connection: once more on a new one
	}
}

func (h *handler) closeSQL() {
	if h.mode.sql != nil {
		h.mode.sql.Close()
		h.mode.sql = nil
	}
}

// mappedTablesIn lists the mapped tables of schema (every schema when "").
func (h *handler) mappedTablesIn(schema string) ([]string, error) {
	all, err := source.MappedTables(h.ctx, h.t.cfg, h.t.rules)
	if err != nil {
		return nil, fmt.Errorf("listing the mapped tables a statement may have changed: %w", err)
	}
	var out []string
	for _, t := range all {
		if schema == "" || strings.HasPrefix(t, schema+".") {
			out = append(out, t)
		}
	}
	return out, nil
}

// errNoRowImageHook: markAbsentColumns could not reach canal's parser.
var errNoRowImageHook = errors.New("cannot watch the binlog's row images for absent columns")

// isUnsafe reports whether err stops the tailer for good.
func isUnsafe(err error) bool {
	var u *UnsafeBinlogError
	var d *SchemaDoubtError
	return errors.As(err, &u) || errors.As(err, &d) || errors.Is(err, errNoRowImageHook)
}
