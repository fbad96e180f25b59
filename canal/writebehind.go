package canal

import (
	"fmt"
	"regexp"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/writebehind"
)

// Echo guarding for write-behind rules. The flusher applies a batch in one
// transaction whose FIRST row change is its offsets row (stream → last
// applied entry ID; the contract is writebehind.OffsetsTable). Rows events arrive in binlog order, so
// by the time the flushed rows stream past, the handler knows the
// transaction is the flusher's: for its inserted and updated rows, the keys
// of the templates in write_behind.keys of that stream's rule go out as
// guarded deletes (event.Batch.Guarded; the deleter keeps such a key only
// while it holds exactly the value the write-behind scripts stamped on it,
// see sink/guard.go), while the rule's other keys, and every key of a
// deleted row, are plain deletes. Owned templates name only primary key
// columns (checked at start, see CheckSchema), so a flushed row never
// moves away from its owned key. The mark is dropped at the transaction
// boundary (OnPosSynced) and on reconnect. A write to the same table from
// anything else invalidates as usual.

// offsetsTableRegexes adds the offsets table of each database holding a
// write-behind table to canal's table filter.
func offsetsTableRegexes(rules []*config.Rule) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rules {
		if !r.WriteBehind.Enabled() || seen[r.DB] {
			continue
		}
		seen[r.DB] = true
		out = append(out, `(?s)^`+regexp.QuoteMeta(r.DB)+`\.`+regexp.QuoteMeta(writebehind.OffsetsTable)+`$`)
	}
	return out
}

// flushRow reports whether e is a change of an offsets table, and then
// remembers its streams for the rest of the transaction.
func (h *handler) flushRow(e *gocanal.RowsEvent) bool {
	if e.Table.Name != writebehind.OffsetsTable || !h.wbDatabase(e.Table.Schema) {
		return false
	}
	col := keys.ColumnIndex(e.Table, writebehind.OffsetsStream)
	if col < 0 {
		return true
	}
	if h.flushed == nil {
		h.flushed = map[string]struct{}{}
	}
	for _, row := range e.Rows {
		if col < len(row) && row[col] != nil {
			h.flushed[fmt.Sprint(asText(row[col]))] = struct{}{}
		}
	}
	return true
}

func asText(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func (h *handler) wbDatabase(db string) bool {
	for _, r := range h.t.rules {
		if r.WriteBehind.Enabled() && r.DB == db {
			return true
		}
	}
	return false
}

// echo answers keys.Output.Echo (keyOut): whether the row change being rendered is an
// insert or update of the current transaction, the flush of stream. A
// deleted row's keys are never guarded: a reader may have refilled the
// row's old value after the write-behind delete.
func (h *handler) echo(stream string) bool {
	if stream == "" || len(h.flushed) == 0 || h.batch == nil || h.batch.Op == event.OpDelete {
		return false
	}
	_, ok := h.flushed[stream]
	return ok
}

// addGuarded is keys.Output.AddGuarded (keyOut): a key to delete unless the cache holds
// exactly write-behind's value. De-duplicated within the transaction apart
// from the plain keys: a plain delete of the same key (h.seen) wins, and a
// plain delete that comes after a guarded one goes out again, plainly.
func (h *handler) addGuarded(key []byte) {
	if _, dup := h.seen[string(key)]; dup {
		return
	}
	if _, dup := h.guardSeen[string(key)]; dup {
		return
	}
	if h.guardSeen == nil || len(h.guardSeen) >= h.t.DedupLimit {
		h.guardSeen = make(map[string]struct{})
	}
	k := string(key)
	h.guardSeen[k] = struct{}{}
	h.batch.AddKey(k, true)
	h.t.metrics.WBEchoGuarded.WithLabelValues(h.batch.DB + "." + h.batch.Table).Inc()
}

// endFlush forgets the flush marks at a transaction boundary or reconnect.
func (h *handler) endFlush() {
	clear(h.flushed)
	clear(h.guardSeen)
}

// logNotOwnable says, once per compiled schema, which owned templates are
// deleted plainly because they name a column outside the primary key.
func (h *handler) logNotOwnable(tk *tableKeys) {
	for _, raw := range tk.NotOwnable() {
		h.t.log.Error("write_behind.keys template names a column outside the table's primary key (a DDL since start?): its keys get plain deletes; move it out of write_behind.keys",
			zap.String("table", tk.name), zap.String("template", raw), zap.Stringer("position", h.boundary))
	}
}
