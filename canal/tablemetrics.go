package canal

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
)

// tableMetrics curries label values once per compiled table, so the per-row
// path only increments plain counters.
type tableMetrics struct{ m *metrics.Metrics }

func (tm tableMetrics) bind(tk *tableKeys) {
	tk.rows = map[string]prometheus.Counter{}
	tk.events = map[string]prometheus.Counter{}
	for _, op := range []event.Op{event.OpInsert, event.OpUpdate, event.OpDelete} {
		tk.rows[op.String()] = tm.m.BinlogRows.WithLabelValues(tk.name, op.String())
		tk.events[op.String()] = tm.m.BinlogEvents.WithLabelValues(tk.name, op.String())
	}
	tk.emitted = tm.m.KeysEmitted.WithLabelValues(tk.name)
	tk.watchSkipped = tm.m.WatchSkipped.WithLabelValues(tk.name)
	tk.schemaMismatch = tm.m.SchemaMismatch.WithLabelValues(tk.name)
}

func (tm tableMetrics) nulls(table, tpl string) prometheus.Counter {
	return tm.m.KeysNullSkipped.WithLabelValues(table, tpl)
}

func (tm tableMetrics) empties(table, tpl string) prometheus.Counter {
	return tm.m.KeysEmptySkipped.WithLabelValues(table, tpl)
}

func (tm tableMetrics) missing(table, column string) prometheus.Counter {
	return tm.m.TemplateErrors.WithLabelValues(table, column)
}
