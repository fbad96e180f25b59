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
	SecondSkipped    prometheus.Counter
	RedisErrors      *prometheus.CounterVec // phase
	RedisRetries     *prometheus.CounterVec // phase
	CommitToDelete   prometheus.Histogram
	CheckpointSaves  prometheus.Counter
	CheckpointFile   *prometheus.GaugeVec // file
	CheckpointPos    prometheus.Gauge
	InFlightBatches  prometheus.Gauge
	TailerReconnects prometheus.Counter
	BinlogGaps       prometheus.Counter // checkpoint's binlog purged, covered by source.on_gap: backfill
	ReplicationLag   prometheus.Gauge
	HeadroomFiles    prometheus.Gauge // binlog files the server keeps before the checkpoint's
	HeadroomBytes    prometheus.Gauge
	Leader           prometheus.Gauge       // 1 while this process streams the binlog
	BinlogBehind     prometheus.Gauge       // binlog bytes written after the saved checkpoint
	StatementDML     *prometheus.CounterVec // table: statement-format DML of a mapped table
	PartialRowImage  *prometheus.CounterVec // table: rows events lacking a template or watch column
	BinlogSettingsOK prometheus.Gauge       // 0 while the server's global binlog_format/binlog_row_image are not ROW/FULL

	// Write-behind (stream label: the rule's Redis stream).
	WBEntries        *prometheus.CounterVec   // stream: entries applied to MySQL
	WBRows           *prometheus.CounterVec   // stream, op (upsert|delete): row statements after coalescing
	WBBatches        *prometheus.CounterVec   // stream: committed transactions
	WBSkipped        *prometheus.CounterVec   // stream: re-delivered entries already applied, acknowledged only
	WBDeadLettered   *prometheus.CounterVec   // stream: poison entries moved to the dead-letter stream
	WBErrors         *prometheus.CounterVec   // stream, stage (mysql|redis): failed attempts, retried
	WBFlushSeconds   *prometheus.HistogramVec // stream
	WBPending        *prometheus.GaugeVec     // stream: entries not yet flushed
	WBOldestAge      *prometheus.GaugeVec     // stream
	WBEchoGuarded    *prometheus.CounterVec   // table: owned keys of the flusher's own row writes, sent as guarded deletes
	WBGuardedDeletes *prometheus.CounterVec   // phase, result (kept|deleted): what the guarded deletes did

	RedisFaults // a Redis that restarted

	// Kafka transport.
	KafkaPublished      prometheus.Counter     // messages acknowledged by the broker
	KafkaPublishErrors  prometheus.Counter     // failed produce attempts, retried
	KafkaPublishPending prometheus.Gauge       // messages handed to the writer, not yet acknowledged
	KafkaConsumed       prometheus.Counter     // messages fetched by the consumer
	KafkaDone           prometheus.Counter     // messages fully done (both deletes, or dead-lettered)
	KafkaCommitErrors   prometheus.Counter     // failed offset commits, retried
	KafkaDeadLettered   *prometheus.CounterVec // reason class
	KafkaBypassed       *prometheus.CounterVec // reason (split|broker): changes deleted straight from Redis
	KafkaConsumerLag    prometheus.Gauge       // messages behind the partition's end, as the reader last saw
	KafkaRedelivered    prometheus.Counter     // messages at or below an offset this consumer already finished
	KafkaNewerVersion   prometheus.Counter     // messages of a later format version, left for an upgraded consumer

	// Rows the binlog does not list (faults.go).
	Truncates    *prometheus.CounterVec // table, action (warn|scan)
	ScanDeleted  *prometheus.CounterVec // table, reason (truncate|cascade): keys a SCAN found and deleted
	CascadeKeys  *prometheus.CounterVec // table: keys rendered from a parent's deleted row for its ON DELETE CASCADE children
	SchemaDoubts *prometheus.CounterVec // table, action (backfill|fail): rows events not decodable with a known schema
	Replicas     Replicas               // delete.second: replicas
}

// New creates the collectors and registers them with reg (may be nil, for tests
// that do not scrape).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		BinlogRows: counterVec("cachesync_binlog_rows_total",
			"Row changes read from the binlog for mapped tables.", "table", "op"),
		BinlogEvents: counterVec("cachesync_binlog_events_total",
			"Binlog rows events read for mapped tables.", "table", "op"),
		KeysEmitted: counterVec("cachesync_keys_emitted_total",
			"Cache keys rendered and handed to the transport, after de-duplication.", "table"),
		KeysNullSkipped: counterVec("cachesync_keys_null_skipped_total",
			"Keys not rendered because a template column was NULL.", "table", "template"),
		KeysEmptySkipped: counterVec("cachesync_keys_empty_skipped_total",
			"Keys not deleted because they rendered to the empty string.", "table", "template"),
		TemplateErrors: counterVec("cachesync_template_column_missing_total",
			"Rows whose key template names a column the table no longer has (after DDL).", "table", "column"),
		WatchSkipped: counterVec("cachesync_watch_skipped_rows_total",
			"UPDATE rows skipped because no watched column changed.", "table"),
		SchemaMismatch: counterVec("cachesync_schema_mismatch_events_total",
			"Rows events whose column count differs from the table's current schema (lagging behind DDL).", "table"),
		Invalidated: counterVec("cachesync_keys_invalidated_total",
			"Keys deleted in Redis, by phase (first, second).", "phase"),
		SecondSkipped: counter("cachesync_second_deletes_skipped_total",
			"Keys whose second delete was not sent: their change was older than delete.second_delay + 2s when the first delete was done (catching up; delete.skip_old_second)."),
		RedisErrors: counterVec("cachesync_redis_errors_total",
			"Failed Redis round trips, by phase.", "phase"),
		RedisRetries: counterVec("cachesync_redis_retries_total",
			"Redis round trips retried after a failure, by phase.", "phase"),
		CommitToDelete: histogram("cachesync_commit_to_delete_seconds",
			"Time from the transaction's commit timestamp (1 s resolution) to the first delete.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}),
		CheckpointSaves: counter("cachesync_checkpoint_saves_total",
			"Checkpoint writes."),
		CheckpointFile: gaugeVec("cachesync_checkpoint_info",
			"1 for the binlog file of the saved checkpoint.", "file"),
		CheckpointPos: gauge("cachesync_checkpoint_position_bytes",
			"Offset within the binlog file of the saved checkpoint."),
		InFlightBatches: gauge("cachesync_inflight_batches",
			"Batches handed to the transport and not yet fully invalidated."),
		TailerReconnects: counter("cachesync_binlog_reconnects_total",
			"Times the binlog connection was re-established from the last transaction boundary."),
		BinlogGaps: counter("cachesync_binlog_gaps_total",
			"Times the server no longer had the checkpoint's binlog (purged) and source.on_gap: backfill rescanned every mapped table; with on_gap: fail the process exits instead."),
		ReplicationLag: gauge("cachesync_replication_lag_seconds",
			"Now minus the commit time of the last binlog event read."),
		HeadroomFiles: gauge("cachesync_binlog_retention_headroom_files",
			"Binlog files the server still keeps that are older than the checkpoint's file: how many purges away losing the checkpoint is."),
		BinlogBehind: gauge("cachesync_binlog_behind_bytes",
			"Binlog the server has written after the saved checkpoint (measured with the retention, every 30 s): work not yet fully invalidated, or not yet read. Unlike the lag it grows while reading or deleting is stuck."),
		Leader: gauge("cachesync_leader",
			"1 while this process streams the binlog (the lease holder with checkpoint.store redis, the tailer with a file checkpoint); 0 for a standby, or a process that only consumes or flushes. Exactly one instance of a config should be 1."),
		HeadroomBytes: gauge("cachesync_binlog_retention_headroom_bytes",
			"Total size of the binlog files older than the checkpoint's file that the server still keeps."),
		StatementDML: counterVec("cachesync_binlog_statement_dml_total",
			"Statement-format DML (binlog_format STATEMENT or MIXED) of a mapped table: its rows are not in the binlog, so source.on_statement_dml failed the run or backfilled the table.", "table"),
		PartialRowImage: counterVec("cachesync_binlog_partial_row_images_total",
			"Rows events of a mapped table whose image lacks a template or watch column (binlog_row_image MINIMAL or NOBLOB); handled by source.on_statement_dml.", "table"),
		BinlogSettingsOK: gauge("cachesync_binlog_settings_ok",
			"1 while the source's global binlog_format is ROW and binlog_row_image FULL (checked every 30 s); 0: new sessions write binlog cachesync cannot turn into keys."),
	}
	m.newWriteBehind()
	m.newKafka()
	m.newFaults(reg)
	m.RedisFaults = newRedisFaults()
	m.newReplicas()
	if reg != nil {
		reg.MustRegister(m.RedisFaults.collectors()...)
		reg.MustRegister(m.Replicas.collectors()...)
		reg.MustRegister(m.BinlogRows, m.BinlogEvents, m.KeysEmitted, m.KeysNullSkipped, m.KeysEmptySkipped,
			m.TemplateErrors, m.WatchSkipped, m.SchemaMismatch, m.Invalidated, m.SecondSkipped, m.RedisErrors, m.RedisRetries, m.CommitToDelete,
			m.CheckpointSaves, m.CheckpointFile, m.CheckpointPos, m.InFlightBatches, m.TailerReconnects, m.BinlogGaps, m.ReplicationLag, m.HeadroomFiles, m.HeadroomBytes, m.Leader, m.BinlogBehind,
			m.StatementDML, m.PartialRowImage, m.BinlogSettingsOK,
			m.WBEntries, m.WBRows, m.WBBatches, m.WBSkipped, m.WBDeadLettered, m.WBErrors, m.WBFlushSeconds,
			m.WBPending, m.WBOldestAge, m.WBEchoGuarded, m.WBGuardedDeletes,
			m.KafkaPublished, m.KafkaPublishErrors, m.KafkaPublishPending, m.KafkaConsumed, m.KafkaDone,
			m.KafkaCommitErrors, m.KafkaDeadLettered, m.KafkaConsumerLag, m.KafkaRedelivered, m.KafkaNewerVersion, m.KafkaBypassed)
	}
	return m
}

func (m *Metrics) newWriteBehind() {
	m.WBEntries = counterVec("cachesync_writebehind_entries_total", "Write-behind stream entries applied to MySQL.", "stream")
	m.WBRows = counterVec("cachesync_writebehind_rows_total", "Rows written by the flusher after coalescing, by op (upsert, delete).", "stream", "op")
	m.WBBatches = counterVec("cachesync_writebehind_batches_total", "Write-behind batches committed, one MySQL transaction each.", "stream")
	m.WBSkipped = counterVec("cachesync_writebehind_skipped_total", "Re-delivered entries at or below the stored last-applied ID: acknowledged, not applied again.", "stream")
	m.WBDeadLettered = counterVec("cachesync_writebehind_dead_lettered_total", "Poison entries moved to the dead-letter stream with their reason.", "stream")
	m.WBErrors = counterVec("cachesync_writebehind_errors_total", "Failed flusher attempts, retried with backoff, by stage (mysql, redis).", "stream", "stage")
	m.WBFlushSeconds = histogramVec("cachesync_writebehind_flush_seconds", "Time to apply and commit one write-behind batch.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "stream")
	m.WBPending = gaugeVec("cachesync_writebehind_pending_entries", "Stream entries not yet flushed: delivered and unacknowledged, plus not yet delivered.", "stream")
	m.WBOldestAge = gaugeVec("cachesync_writebehind_oldest_pending_age_seconds", "Age of the oldest stream entry not yet flushed (0 when none).", "stream")
	m.WBEchoGuarded = counterVec("cachesync_writebehind_echo_guarded_keys_total",
		"Owned keys of rows the flusher itself inserted or updated, sent as guarded deletes (kept while the cache holds exactly the stamped write-behind value).", "table")
	m.WBGuardedDeletes = counterVec("cachesync_writebehind_guarded_deletes_total",
		"Guarded deletes by phase (first, second) and result: kept (the key holds exactly its stamped write-behind value) or deleted.", "phase", "result")
}
