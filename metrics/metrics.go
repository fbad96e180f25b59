// Package metrics defines every Prometheus metric cachesync exports. A
// Metrics value is built per process (or per test) against a registry that
// the caller passes in; there is no global registration.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics holds the collectors. Hot paths should curry label values once
// (per table, per phase) rather than call WithLabelValues per row.
type Metrics struct {
	BinlogRows       *prometheus.CounterVec // table, op
	BinlogEvents     *prometheus.CounterVec // table, op
	KeysEmitted      *prometheus.CounterVec // table
	KeysNullSkipped  *prometheus.CounterVec // table, template
	KeysEmptySkipped *prometheus.CounterVec // table, template
	TemplateErrors   *prometheus.CounterVec // table, column
	WatchSkipped     *prometheus.CounterVec // table
	SchemaMismatch   *prometheus.CounterVec // table
	Invalidated      *prometheus.CounterVec // phase: first|second
	RedisErrors      *prometheus.CounterVec // phase
	RedisRetries     *prometheus.CounterVec // phase
	CommitToDelete   prometheus.Histogram
	CheckpointSaves  prometheus.Counter
	CheckpointFile   *prometheus.GaugeVec // file
	CheckpointPos    prometheus.Gauge
	InFlightBatches  prometheus.Gauge
	TailerReconnects prometheus.Counter
	ReplicationLag   prometheus.Gauge
}

// New creates the collectors and registers them with reg (may be nil, for tests
// that do not scrape).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		BinlogRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_binlog_rows_total",
			Help: "Row changes read from the binlog for mapped tables."}, []string{"table", "op"}),
		BinlogEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_binlog_events_total",
			Help: "Binlog rows events read for mapped tables."}, []string{"table", "op"}),
		KeysEmitted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_keys_emitted_total",
			Help: "Cache keys rendered and handed to the transport, after de-duplication."}, []string{"table"}),
		KeysNullSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_keys_null_skipped_total",
			Help: "Keys not rendered because a template column was NULL."}, []string{"table", "template"}),
		KeysEmptySkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_keys_empty_skipped_total",
			Help: "Keys not deleted because they rendered to the empty string."}, []string{"table", "template"}),
		TemplateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_template_column_missing_total",
			Help: "Rows whose key template names a column the table no longer has (after DDL)."}, []string{"table", "column"}),
		WatchSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_watch_skipped_rows_total",
			Help: "UPDATE rows skipped because no watched column changed."}, []string{"table"}),
		SchemaMismatch: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_schema_mismatch_events_total",
			Help: "Rows events whose column count differs from the table's current schema (lagging behind DDL)."}, []string{"table"}),
		Invalidated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_keys_invalidated_total",
			Help: "Keys deleted in Redis, by phase (first, second)."}, []string{"phase"}),
		RedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_redis_errors_total",
			Help: "Failed Redis round trips, by phase."}, []string{"phase"}),
		RedisRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_redis_retries_total",
			Help: "Redis round trips retried after a failure, by phase."}, []string{"phase"}),
		CommitToDelete: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cachesync_commit_to_delete_seconds",
			Help:    "Time from the transaction's commit timestamp (1 s resolution) to the first delete.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		CheckpointSaves: prometheus.NewCounter(prometheus.CounterOpts{Name: "cachesync_checkpoint_saves_total",
			Help: "Checkpoint writes."}),
		CheckpointFile: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cachesync_checkpoint_info",
			Help: "1 for the binlog file of the saved checkpoint."}, []string{"file"}),
		CheckpointPos: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_checkpoint_position_bytes",
			Help: "Offset within the binlog file of the saved checkpoint."}),
		InFlightBatches: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_inflight_batches",
			Help: "Batches handed to the transport and not yet fully invalidated."}),
		TailerReconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "cachesync_binlog_reconnects_total",
			Help: "Times the binlog connection was re-established from the last transaction boundary."}),
		ReplicationLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_replication_lag_seconds",
			Help: "Now minus the commit time of the last binlog event read."}),
	}
	if reg != nil {
		reg.MustRegister(m.BinlogRows, m.BinlogEvents, m.KeysEmitted, m.KeysNullSkipped, m.KeysEmptySkipped,
			m.TemplateErrors, m.WatchSkipped, m.SchemaMismatch, m.Invalidated, m.RedisErrors, m.RedisRetries, m.CommitToDelete,
			m.CheckpointSaves, m.CheckpointFile, m.CheckpointPos, m.InFlightBatches, m.TailerReconnects, m.ReplicationLag)
	}
	return m
}
