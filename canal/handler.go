package canal

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/schema"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// handler receives go-mysql canal callbacks on canal's one goroutine.
type handler struct {
	gocanal.DummyEventHandler
	t     *Tailer
	ctx   context.Context
	canal *gocanal.Canal // the running canal, for schema refreshes

	tables map[string]*tableKeys // db.table → compiled rules; nil entry = unmapped
	// mapTables holds schemas built from binlog table maps for tables the
	// server no longer has.
	mapTables map[*replication.TableMapEvent]*schema.Table
	boundary  event.Position      // last transaction boundary seen
	curFile   string              // binlog file being read, for error positions
	seen      map[string]struct{} // keys already emitted in this event group (reset at its GTID and at boundaries)
	ruleBuf   []int
	pkVals    [][]byte // markRow's scratch
	idBuf     []byte
	batch     *event.Batch
	wt        wtRow  // the row being rendered, for set keys (writethrough.go)
	wtScratch []byte // AppendJSON's scratch
	// flushed holds the write-behind streams whose flusher wrote the current
	// transaction (its cachesync_wb_offsets row comes first), guardSeen the
	// guarded keys it emitted; reset at each transaction boundary.
	flushed   map[string]struct{}
	guardSeen map[string]struct{}
	// up is set by the first event of a connection, or once it has run a
	// moment without failing (see Tailer.OnState).
	up atomic.Bool
	xa xaState // see xa.go
	// ddlGroup is set by the GTID event of a DDL (MariaDB's FL_DDL) and
	// cleared by the boundary canal reports when it could parse the DDL.
	ddlGroup bool
	mode     binlogMode // see binlogmode.go
	// ddlTables are the tables of the DDL statement being read, cascaded
	// the cascade scan patterns done in this transaction (norows.go).
	ddlTables [][2]string
	cascaded  map[string]struct{}
	doubt     schemaDoubt // see doubt.go
	// trxGTID is the GTID of the event group being read ("" without GTIDs),
	// copied into each batch for delete.second: replicas.
	trxGTID string
}

// streaming notes that the server is sending events on this connection.
func (h *handler) streaming() {
	if h.up.CompareAndSwap(false, true) {
		h.t.state(true, nil)
	}
}

func newHandler(t *Tailer) *handler {
	return &handler{t: t, tables: map[string]*tableKeys{}, seen: map[string]struct{}{},
		mapTables: map[*replication.TableMapEvent]*schema.Table{}, cascaded: map[string]struct{}{}}
}

func (h *handler) String() string { return "cachesync" }

// reset forgets what a previous connection learnt: schemas are re-read and
// the partial transaction it saw will be streamed again from the boundary.
func (h *handler) reset() {
	clear(h.tables)
	clear(h.mapTables)
	h.seen = make(map[string]struct{})
	h.curFile = h.boundary.File
	h.endFlush()
	h.up.Store(false)
	h.xa.current = "" // the open prepares stay: a group read again is recognised by its GTID
	h.ddlGroup = false
	h.ddlTables = nil
	clear(h.cascaded)
	h.doubt.reset()
}

func (h *handler) tableFor(t *schema.Table) *tableKeys {
	name := t.Schema + "." + t.Name
	if tk, ok := h.tables[name]; ok && (tk == nil || tk.Schema() == t) {
		return tk
	}
	var rules []*config.Rule
	for _, r := range h.t.rules {
		if r.Matches(t.Schema, t.Name) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		h.tables[name] = nil
		return nil
	}
	tk := compileTable(t, rules, h.t.metrics)
	h.logNotOwnable(tk)
	for _, m := range tk.Missing() {
		h.t.log.Error("key template names a column the table does not have; its keys are NOT invalidated until the rule is fixed (the rule's other keys still are)",
			zap.String("table", name), zap.String("template", m.Template), zap.String("column", m.Column),
			zap.Stringer("position", h.boundary))
	}
	if len(tk.UnknownCharsets()) > 0 {
		h.t.log.Warn("key template columns in a character set cachesync cannot convert to UTF-8: their stored bytes are used as they are",
			zap.String("table", name), zap.Strings("columns", tk.UnknownCharsets()))
	}
	h.tables[name] = tk
	return tk
}

// OnTableChanged drops the compiled rules; canal re-reads the schema next.
// The schema after the DDL goes into the history at the DDL's position
// now, not when a row is next decoded: a restart (or reconnect) between
// the two would seed the schema from before the DDL.
func (h *handler) OnTableChanged(hdr *replication.EventHeader, db, table string) error {
	name := db + "." + table
	if tk, ok := h.tables[name]; ok && tk != nil {
		h.t.log.Info("mapped table changed (DDL); recompiling its rules", zap.String("table", name), zap.Stringer("position", h.boundary))
	}
	delete(h.tables, name)
	h.noteDDLTable(db, table)
	if hdr != nil && h.mapped(db, table) {
		h.recordDDL(db, table, h.rowPos(hdr))
	}
	return nil
}

// refreshSchema makes canal re-read a table's schema from the server.
func (h *handler) refreshSchema(t *schema.Table) *schema.Table {
	if h.canal == nil {
		return nil
	}
	h.canal.ClearTableCache([]byte(t.Schema), []byte(t.Name))
	fresh, err := h.canal.GetTable(t.Schema, t.Name)
	if err != nil {
		h.t.log.Warn("re-reading the table schema failed", zap.String("table", t.Schema+"."+t.Name), zap.Stringer("position", h.boundary), zap.Error(err))
		return nil
	}
	return fresh
}

// OnTableNotFound: a rows event for a table that no longer exists (dropped
// or renamed later in the binlog than we are). With binlog_row_metadata=FULL
// the event carries the column names, which is all the templates need.
func (h *handler) OnTableNotFound(hdr *replication.EventHeader, e *replication.RowsEvent) error {
	db, name := string(e.Table.Schema), string(e.Table.Table)
	h.doubt.maps.take(e.Rows) // it has e.Table: drop the copy kept for OnRow
	mapped := false
	for _, r := range h.t.rules {
		mapped = mapped || r.Matches(db, name)
	}
	if !mapped {
		return nil
	}
	t, ok := h.mapTables[e.Table]
	if !ok {
		t = tableFromMap(e.Table)
		h.mapTables[e.Table] = t // the syncer reuses one table map per table id
	}
	if t == nil {
		h.t.log.Error("rows for a mapped table that no longer exists, and the binlog has no column names (binlog_row_metadata is not FULL): their keys are skipped; run `cachesync backfill` if the table comes back",
			zap.String("table", db+"."+name), zap.Int("rows", len(e.Rows)), zap.Uint32("event_end_pos", hdr.LogPos), zap.Stringer("position", h.boundary))
		h.t.metrics.TemplateErrors.WithLabelValues(db+"."+name, "*table*").Add(float64(len(e.Rows)))
		return nil
	}
	tk := h.tableFor(t)
	op, ok := opOf(hdr.EventType)
	if tk == nil || !ok {
		return nil
	}
	return h.handleRows(tk, op, e.Rows, hdr)
}

// OnRow turns one rows event into one batch of de-duplicated keys.
func (h *handler) OnRow(e *gocanal.RowsEvent) error {
	if h.flushRow(e) {
		return nil // the flusher's marker: remembered, it has no keys
	}
	tk := h.tableFor(e.Table)
	if tk == nil {
		return nil
	}
	var op event.Op
	switch e.Action {
	case gocanal.InsertAction:
		op = event.OpInsert
	case gocanal.UpdateAction:
		op = event.OpUpdate
	case gocanal.DeleteAction:
		op = event.OpDelete
	default:
		return nil
	}
	if named := h.byNames(tk, e); named != nil { // doubt.go
		return h.handleRows(h.tableFor(named), op, e.Rows, e.Header)
	}
	if col := tk.misfit(e.Table, e.Rows); col >= 0 {
		fresh, fits := h.refit(tk, e, col)
		if !fits {
			return h.doubtful(tk, e, col)
		}
		tk = fresh
	}
	h.recordSchema(tk)
	return h.handleRows(tk, op, e.Rows, e.Header)
}

// refit is called when e's rows cannot have been decoded with the schema
// canal used (other column count or column types: a DDL canal skipped, or
// a seed that is stale): it re-reads the schema from the server and uses it
// if the rows fit it. Otherwise the rows were written with another schema
// than today's (we lag behind a DDL): see doubtful.
func (h *handler) refit(tk *tableKeys, e *gocanal.RowsEvent, col int) (*tableKeys, bool) {
	if fresh := h.refreshSchema(e.Table); fresh != nil && misfit(fresh, e.Rows) < 0 {
		h.t.log.Warn("rows did not fit the cached table schema (a DDL the binlog parser skipped, or a stale saved schema); re-read it from the server",
			zap.String("table", tk.name), zap.Int("column", col), zap.Stringer("position", h.rowPos(e.Header)))
		return h.tableFor(fresh), true
	}
	return tk, false
}

func (h *handler) rowPos(hdr *replication.EventHeader) event.Position {
	return event.Position{File: h.curFile, Pos: hdr.LogPos}
}

func (h *handler) handleRows(tk *tableKeys, op event.Op, rows [][]any, hdr *replication.EventHeader) error {
	if err := h.checkRowImage(tk, op, rows, hdr); err != nil {
		return err
	}
	b := &event.Batch{DB: tk.Schema().Schema, Table: tk.Schema().Name, Op: op,
		Pos: event.Position{File: h.curFile, Pos: hdr.LogPos}, CommitTime: time.Unix(int64(hdr.Timestamp), 0), GTID: h.trxGTID}
	h.batch = b
	h.t.observeLag(hdr.Timestamp)
	if op == event.OpUpdate {
		for i := 0; i+1 < len(rows); i += 2 {
			h.ruleBuf = tk.UpdateRules(rows[i], rows[i+1], h.ruleBuf)
			if len(h.ruleBuf) == 0 {
				tk.watchSkipped.Inc()
				continue
			}
			b.Rows++
			old := len(b.Sets)
			h.setRow(tk, rows[i], i, true)
			tk.Render(rows[i], h.ruleBuf, keyOut{h})
			mid := len(b.Sets)
			h.setRow(tk, rows[i+1], i+1, false)
			tk.Render(rows[i+1], h.ruleBuf, keyOut{h})
			b.Sets = dropUnmoved(b.Sets, old, mid)
			h.markRow(tk, rows[i+1])
			h.observeRow(tk, op, rows[i+1], b.CommitTime)
		}
		tk.rows[op.String()].Add(float64(len(rows) / 2))
	} else {
		h.ruleBuf = tk.AllRules(h.ruleBuf)
		for j, row := range rows {
			b.Rows++
			h.setRow(tk, row, 2*j+1, op == event.OpDelete)
			tk.Render(row, h.ruleBuf, keyOut{h})
			h.markRow(tk, row)
			h.observeRow(tk, op, row, b.CommitTime)
		}
		if op == event.OpDelete {
			h.cascadeRows(tk, rows)
		}
		tk.rows[op.String()].Add(float64(len(rows)))
	}
	tk.events[op.String()].Inc()
	h.batch, h.wt = nil, wtRow{}
	if op == event.OpDelete {
		if err := h.cascadeScans(tk, b.Pos); err != nil {
			return err
		}
	}
	if len(b.Keys) == 0 && len(b.Sets) == 0 {
		return nil
	}
	tk.emitted.Add(float64(len(b.Keys) + len(b.Sets)))
	h.keepXA(b) // before Send: the sink may reuse the batch
	b.Seq = h.t.tracker.Next()
	if err := h.t.sink.Send(h.ctx, b); err != nil {
		return fmt.Errorf("hand %d keys of %s.%s at %s to the transport: %w", len(b.Keys), b.DB, b.Table, b.Pos, err)
	}
	return nil
}

// OnPosSynced marks a transaction boundary (XID, DDL, rotate). canal also
// calls it from Close with a nil header; that position is one we have seen.
func (h *handler) OnPosSynced(hdr *replication.EventHeader, pos mysql.Position, set mysql.GTIDSet, force bool) error {
	if hdr == nil {
		return nil
	}
	if !force { // a query event that is not DDL may be DML as a statement
		if err := h.checkStatement(hdr, pos.Name); err != nil {
			return err
		}
	}
	h.streaming()
	h.t.observeLag(hdr.Timestamp)
	// Open XA prepares are saved before the checkpoint may pass them.
	if err := h.saveXA(h.ctx); err != nil {
		return err
	}
	p := event.Position{File: pos.Name, Pos: pos.Pos}
	if set != nil {
		p.GTID = set.String()
	}
	h.boundary = p
	h.curFile = p.File
	if hdr.EventType == replication.QUERY_EVENT {
		h.ddlGroup = false // a statement canal could parse (a rotate is no end of a group)
	}
	h.resetSeen()
	h.endFlush()
	h.ddlTables = nil
	clear(h.cascaded)
	h.t.tracker.Commit(p)
	return nil
}

// OnRotate keeps the file name current for error positions mid-transaction.
func (h *handler) OnRotate(_ *replication.EventHeader, e *replication.RotateEvent) error {
	h.streaming()
	h.curFile = string(e.NextLogName)
	return nil
}

// OnDDL handles TRUNCATE, which removes rows without row events (see
// norows.go); canal names its table in OnTableChanged just before.
func (h *handler) OnDDL(_ *replication.EventHeader, pos mysql.Position, q *replication.QueryEvent) error {
	stmt := strings.ToUpper(strings.TrimSpace(string(q.Query)))
	if !strings.HasPrefix(stmt, "TRUNCATE") {
		h.ddlTables = nil
		return nil
	}
	return h.truncated(string(q.Query), event.Position{File: pos.Name, Pos: pos.Pos})
}

// recordSchema notes, once per compiled schema, that it applies from the
// current transaction boundary on (see SchemaHistory).
func (h *handler) recordSchema(tk *tableKeys) {
	if h.t.History == nil || tk.recorded {
		return
	}
	tk.recorded = true
	if err := h.t.History.Record(h.ctx, tk.name, h.boundary, tk.Schema()); err != nil {
		h.t.log.Error("cannot save the schema history; after a restart, rows older than a DDL may decode with the current schema",
			zap.String("table", tk.name), zap.Stringer("position", h.boundary), zap.Error(err))
	}
}
