package metrics

import "github.com/prometheus/client_golang/prometheus"

// newFaults creates (and registers with reg, when not nil) the collectors of
// changes the binlog holds no rows for: TRUNCATE, ON DELETE CASCADE, and
// rows written with a schema cachesync does not know.
func (m *Metrics) newFaults(reg prometheus.Registerer) {
	m.Truncates = counterVec("cachesync_truncates_total",
		"TRUNCATE statements of a mapped table, by what the rule's on_truncate did: warn (its keys were NOT invalidated) or scan (its keys were found by SCAN and deleted).", "table", "action")
	m.ScanDeleted = counterVec("cachesync_scan_deleted_keys_total",
		"Keys found by SCAN MATCH and deleted, for on_truncate: scan (reason truncate) or a cascade with scan: true (reason cascade).", "table", "reason")
	m.CascadeKeys = counterVec("cachesync_cascade_keys_total",
		"Keys of ON DELETE CASCADE children rendered from a deleted parent row (cascade keys).", "table")
	m.SchemaDoubts = counterVec("cachesync_schema_doubt_events_total",
		"Rows events of a mapped table that fit no schema cachesync knows, without column names in the binlog (binlog_row_metadata not FULL): no key was rendered from them; source.on_schema_doubt backfilled the table or failed the run.", "table", "action")
	if reg != nil {
		reg.MustRegister(m.Truncates, m.ScanDeleted, m.CascadeKeys, m.SchemaDoubts)
	}
}
