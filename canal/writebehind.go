package canal

import (
	"fmt"
	"regexp"

	gocanal "github.com/go-mysql-org/go-mysql/canal"

	"github.com/cachesync/cachesync/config"
)

// Echo suppression for write-behind rules. The flusher applies a batch in
// one transaction whose FIRST row change is its cachesync_wb_offsets row
// (stream → last applied entry ID). Rows events arrive in binlog order, so
// by the time the flushed rows stream past, the handler knows the
// transaction is the flusher's: for it, the templates in write_behind.keys
// of that stream's rule are not rendered (the cache already holds those
// values, possibly newer ones), while the rule's other keys are. The mark
// is dropped at the transaction boundary (OnPosSynced) and on reconnect.
// A write to the same table from anything else invalidates as usual.

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
		out = append(out, `(?s)^`+regexp.QuoteMeta(r.DB)+`\.`+regexp.QuoteMeta(config.OffsetsTable)+`$`)
	}
	return out
}

// flushRow reports whether e is a change of an offsets table, and then
// remembers its streams for the rest of the transaction.
func (h *handler) flushRow(e *gocanal.RowsEvent) bool {
	if e.Table.Name != config.OffsetsTable || !h.wbDatabase(e.Table.Schema) {
		return false
	}
	col := columnIndex(e.Table, "stream")
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

// echo implements keySink: whether the current transaction is the flush of
// stream. Suppressed keys are counted per table.
func (h *handler) echo(stream string) bool {
	if stream == "" || len(h.flushed) == 0 {
		return false
	}
	if _, ok := h.flushed[stream]; !ok {
		return false
	}
	if h.batch != nil {
		h.t.metrics.WBEchoSuppressed.WithLabelValues(h.batch.DB + "." + h.batch.Table).Inc()
	}
	return true
}
