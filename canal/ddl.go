package canal

import (
	"errors"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/schema"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
)

// DDL and the schema history. A table's schema is recorded when canal
// reads a DDL of it (OnTableChanged), at the DDL's position, so a restart or
// reconnect after the DDL seeds the new schema even when no row of the
// table followed. canal's SQL parser cannot read some MariaDB DDL
// (ALGORITHM=NOCOPY, ALTER ONLINE TABLE, CREATE OR REPLACE) and says nothing
// to the handler about it; MariaDB flags the GTID event of every DDL
// (FL_DDL), so a DDL group that ends without the boundary canal reports for
// a DDL it read was one it skipped: the schemas of all mapped tables are
// re-read then, recorded, and this is logged.

func (h *handler) mapped(db, table string) bool {
	for _, r := range h.t.rules {
		if r.Matches(db, table) {
			return true
		}
	}
	return false
}

// recordDDL reads the table's schema after a DDL at pos and records it. A
// table the DDL removed has none to record. In GTID mode the version is
// placed at the GTID set of the boundary before the DDL: no row lies
// between the two.
func (h *handler) recordDDL(db, table string, pos event.Position) {
	if h.t.History == nil || h.canal == nil {
		return
	}
	pos.GTID = h.boundary.GTID
	name := db + "." + table
	t, err := h.canal.GetTable(db, table)
	if errors.Is(err, schema.ErrTableNotExist) {
		return // dropped or renamed away: no schema to record
	}
	if err != nil {
		h.t.log.Error("cannot read a mapped table's schema after a DDL, so the schema history misses it; after a restart before its next row, rows after this DDL may decode with the schema before it (the rows check re-reads a schema they do not fit)",
			zap.String("table", name), zap.Stringer("position", pos), zap.Error(err))
		return
	}
	if err := h.t.History.Record(h.ctx, name, pos, t); err != nil {
		h.t.log.Error("cannot save the schema history; after a restart, rows after this DDL may decode with the schema before it",
			zap.String("table", name), zap.Stringer("position", pos), zap.Error(err))
	}
}

// ddlGTID is called for each MariaDB GTID event: it closes the previous
// group (a DDL canal skipped, if it was one) and notes whether this one is
// a DDL.
func (h *handler) ddlGTID(hdr *replication.EventHeader, g *replication.MariadbGTIDEvent) {
	if h.ddlGroup {
		h.unparsedDDL(event.Position{File: h.curFile, Pos: hdr.LogPos - hdr.EventSize})
	}
	h.ddlGroup = g.IsDDL()
}

// unparsedDDL re-reads the schema of every mapped table canal knows (or the
// history seeded), which one the DDL changed being unknown, and records
// each at pos.
func (h *handler) unparsedDDL(pos event.Position) {
	h.ddlGroup = false
	if h.canal == nil {
		return
	}
	type dbTable struct{ db, table string }
	tables := map[string]dbTable{}
	for name, tk := range h.tables {
		if tk != nil {
			tables[name] = dbTable{tk.Schema().Schema, tk.Schema().Name}
			delete(h.tables, name)
		}
	}
	if h.t.History != nil {
		for _, name := range h.t.History.Tables() {
			if t := h.t.History.Latest(name); t != nil && tables[name] == (dbTable{}) {
				tables[name] = dbTable{t.Schema, t.Name}
			}
		}
	}
	if len(tables) == 0 {
		return
	}
	h.t.log.Warn("a DDL statement the binlog parser could not read (MariaDB syntax such as ALTER ONLINE TABLE or ALGORITHM=NOCOPY, or one such as CREATE TRIGGER); re-reading the schemas of the mapped tables",
		zap.Int("tables", len(tables)), zap.Stringer("position", pos))
	for _, t := range tables {
		h.canal.ClearTableCache([]byte(t.db), []byte(t.table))
		h.recordDDL(t.db, t.table, pos)
	}
}
