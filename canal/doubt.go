package canal

import (
	"fmt"
	"strings"
	"sync"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/schema"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/source"
)

// Rows written with a schema cachesync does not know. go-mysql canal
// decodes every row with the schema it has for the table: the one the
// history seeded at the checkpoint, then today's after the first DDL it
// reads. Two DDLs it has not read yet (two ALTERs while it was stopped)
// leave the rows between them decoded with today's schema, which is not
// theirs. With binlog_row_metadata=FULL the table map names every column:
// such rows are then read by those names, with today's column types where
// a column of that name still fits the values (the binlog's own type
// otherwise), so keys are right whatever the live schema is. Without FULL
// the misfit is seen by the values' types (rowfit.go; same-typed columns
// that swapped places are not seen) and source.on_schema_doubt decides:
// backfill renders no key from those rows and invalidates every key of
// the table by scanning it (once for all doubtful rows written before the
// scan began), fail stops before the checkpoint passes them.

// schemaDoubt is the handler's state for this.
type schemaDoubt struct {
	maps    rowMaps
	named   map[string]namedSchema    // db.table → the last schema built from a table map
	covered map[string]event.Position // db.table → where the primary was when its doubt backfill began; outlives reconnects
}

type namedSchema struct {
	key       string        // the table map's column names and types
	cur, made *schema.Table // the schema canal used, and the one built
}

func (d *schemaDoubt) reset() {
	d.maps.m.Clear()
	clear(d.named)
}

// rowMaps hands the table map of each decoded rows event that carries
// column names from the parser's goroutine to the handler's, keyed by the
// rows' backing array, which canal passes on unchanged.
type rowMaps struct{ m sync.Map }

func (r *rowMaps) put(e *replication.RowsEvent) {
	if len(e.Rows) > 0 && e.Table != nil && len(e.Table.ColumnName) > 0 {
		r.m.Store(&e.Rows[0], e.Table)
	}
}

func (r *rowMaps) take(rows [][]any) *replication.TableMapEvent {
	if len(rows) == 0 {
		return nil
	}
	v, ok := r.m.LoadAndDelete(&rows[0])
	if !ok {
		return nil
	}
	return v.(*replication.TableMapEvent)
}

// byNames returns the schema to render e's rows with when the binlog names
// their columns and canal's schema does not fit them (other names, order
// or types); nil when canal's schema is right or no names are known. It
// fixes the signedness canal applied by the wrong schema in place.
func (h *handler) byNames(tk *tableKeys, e *gocanal.RowsEvent) *schema.Table {
	tm := h.doubt.maps.take(e.Rows)
	if tm == nil {
		return nil
	}
	names := tm.ColumnNameString()
	if len(names) != int(tm.ColumnCount) || (sameNames(names, e.Table) && tk.misfit(e.Table, e.Rows) < 0) {
		return nil
	}
	key := strings.Join(names, "\x00") + "\x00" + string(tm.ColumnType)
	n, ok := h.doubt.named[tk.name]
	if !ok || n.key != key || n.cur != e.Table {
		n = namedSchema{key: key, cur: e.Table, made: schemaByNames(tm, e.Table, e.Rows)}
		if h.doubt.named == nil {
			h.doubt.named = map[string]namedSchema{}
		}
		h.doubt.named[tk.name] = n
		h.t.log.Info("rows written with another layout of the table than cachesync's (a DDL not read yet); reading them by the column names the binlog carries (binlog_row_metadata=FULL)",
			zap.String("table", tk.name), zap.Strings("binlog_columns", names), zap.Stringer("position", h.rowPos(e.Header)))
	}
	fixSigns(e.Rows, e.Table, tm)
	return n.made
}

func sameNames(names []string, t *schema.Table) bool {
	if len(names) != len(t.Columns) {
		return false
	}
	for i, n := range names {
		if !strings.EqualFold(n, t.Columns[i].Name) {
			return false
		}
	}
	return true
}

// schemaByNames lays the table map's columns out in its order, each with
// cur's definition of the column of that name when the values fit it, the
// binlog's type otherwise.
func schemaByNames(tm *replication.TableMapEvent, cur *schema.Table, rows [][]any) *schema.Table {
	base := tableFromMap(tm)
	t := &schema.Table{Schema: cur.Schema, Name: cur.Name}
	for i, c := range base.Columns {
		if j := keys.ColumnIndex(cur, c.Name); j >= 0 && columnFits(kindOf(&cur.Columns[j]), rows, i) {
			c = cur.Columns[j]
			c.IsUnsigned = base.Columns[i].IsUnsigned
		}
		t.Columns = append(t.Columns, c)
		if c.IsUnsigned {
			t.UnsignedColumns = append(t.UnsignedColumns, i)
		}
	}
	for _, pk := range cur.PKColumns {
		if j := keys.ColumnIndex(t, cur.Columns[pk].Name); j >= 0 {
			t.PKColumns = append(t.PKColumns, j)
		}
	}
	return t
}

func columnFits(k valueKind, rows [][]any, i int) bool {
	for _, r := range rows {
		if i < len(r) && r[i] != nil {
			return fits(k, r[i])
		}
	}
	return true
}

// fixSigns undoes what canal's unsigned conversion did by cur's column
// positions and does it by the table map's signedness instead.
func fixSigns(rows [][]any, cur *schema.Table, tm *replication.TableMapEvent) {
	unsigned := tm.UnsignedMap()
	converted := map[int]bool{}
	for _, i := range cur.UnsignedColumns {
		converted[i] = true
	}
	for _, row := range rows {
		for i := range row {
			want := unsigned[i]
			switch {
			case converted[i] && !want:
				row[i] = toSigned(row[i], i < len(cur.Columns) && cur.Columns[i].Type == schema.TYPE_MEDIUM_INT)
			case !converted[i] && want:
				row[i] = toUnsigned(row[i], i < len(tm.ColumnType) && tm.ColumnType[i] == mysql.MYSQL_TYPE_INT24)
			}
		}
	}
}

func toSigned(v any, medium bool) any {
	switch x := v.(type) {
	case uint8:
		return int8(x)
	case uint16:
		return int16(x)
	case uint32:
		if medium && x > 0x7FFFFF {
			return int32(x) - 0x1000000
		}
		return int32(x)
	case uint64:
		return int64(x)
	case uint:
		return int(x)
	}
	return v
}

func toUnsigned(v any, medium bool) any {
	switch x := v.(type) {
	case int8:
		return uint8(x)
	case int16:
		return uint16(x)
	case int32:
		if medium && x < 0 {
			return uint32(x + 0x1000000)
		}
		return uint32(x)
	case int64:
		return uint64(x)
	case int:
		return uint(x)
	}
	return v
}

// SchemaDoubtError stops the tailer at rows that fit no schema it knows
// (source.on_schema_doubt: fail). It is never retried: the same rows would
// come again.
type SchemaDoubtError struct {
	Table string
	Pos   event.Position
}

func (e *SchemaDoubtError) Error() string {
	return fmt.Sprintf("rows of %s in the binlog event ending at %s were written with another schema than cachesync knows (DDL it has not read yet, such as two ALTERs while it was stopped), "+
		"and the binlog carries no column names: no key was rendered from them and the checkpoint stays before them. Ways out: set binlog_row_metadata=FULL on the server "+
		"(rows written from then on are read by name), set source.on_schema_doubt: backfill and restart (the table is rescanned), "+
		"or run `cachesync backfill --table %s` and move the checkpoint past them", e.Table, e.Pos, e.Table)
}

// doubtful applies source.on_schema_doubt to rows no known schema fits.
func (h *handler) doubtful(tk *tableKeys, e *gocanal.RowsEvent, col int) error {
	pos := h.rowPos(e.Header)
	policy := h.t.cfg.OnSchemaDoubt
	h.t.log.Error("rows fit neither the schema cachesync had nor the table's current one (DDL since they were written), and the binlog has no column names (binlog_row_metadata is not FULL): no key is rendered from them",
		zap.String("table", tk.name), zap.Int("rows", len(e.Rows)), zap.Int("row_columns", len(e.Rows[0])), zap.Int("schema_columns", len(e.Table.Columns)),
		zap.Int("first_column_differing", col), zap.Stringer("position", pos), zap.String("on_schema_doubt", policy))
	tk.schemaMismatch.Inc()
	h.t.metrics.SchemaDoubts.WithLabelValues(tk.name, policy).Inc()
	if policy != "backfill" || h.t.Backfill == nil {
		return &SchemaDoubtError{Table: tk.name, Pos: pos}
	}
	if at, ok := h.doubt.covered[tk.name]; ok && pos.Compare(at) <= 0 {
		return nil // written before a backfill of the table began: it read their effect
	}
	start, err := source.CurrentPosition(h.ctx, h.t.cfg)
	if err != nil {
		return fmt.Errorf("on_schema_doubt backfill of %s: %w (retried from the last transaction boundary)", tk.name, err)
	}
	if err := h.t.Backfill(h.ctx, []string{tk.name}); err != nil {
		return fmt.Errorf("on_schema_doubt backfill of %s for the rows at %s: %w (retried from the last transaction boundary)", tk.name, pos, err)
	}
	if h.doubt.covered == nil {
		h.doubt.covered = map[string]event.Position{}
	}
	h.doubt.covered[tk.name] = start
	h.t.log.Info("table invalidated by backfill (source.on_schema_doubt: backfill); streaming on",
		zap.String("table", tk.name), zap.Stringer("position", pos), zap.Stringer("covers_rows_before", start))
	return nil
}
