package metrics

import "github.com/prometheus/client_golang/prometheus"

func (m *Metrics) newKafka() {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m.KafkaPublished = counter("cachesync_kafka_published_messages_total", "Messages the broker acknowledged (acks=all).")
	m.KafkaPublishErrors = counter("cachesync_kafka_publish_errors_total", "Failed produce attempts; the messages are retried, never dropped.")
	m.KafkaPublishPending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_kafka_publish_pending_messages",
		Help: "Messages handed to the Kafka writer and not yet acknowledged by the broker."})
	m.KafkaConsumed = counter("cachesync_kafka_consumed_messages_total", "Messages fetched by the consumer.")
	m.KafkaDone = counter("cachesync_kafka_done_messages_total", "Messages fully handled by the consumer: both deletes done, or dead-lettered.")
	m.KafkaCommitErrors = counter("cachesync_kafka_commit_errors_total", "Failed offset commits; retried at the next commit.")
	m.KafkaDeadLettered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_kafka_dlq_messages_total",
		Help: "Undecodable messages sent to the DLQ topic, by reason (decode; version: an unknown version older than the current one)."}, []string{"reason"})
	m.KafkaBypassed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachesync_kafka_bypassed_changes_total",
		Help: "Changes Kafka can never carry (a key larger than a message: reason split; the broker refusing the size: reason broker), whose keys the tailer deleted straight from Redis instead. Any increase is an alarm: a key that large is probably a bug in a rule."}, []string{"reason"})
	m.KafkaConsumerLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_kafka_consumer_lag_messages",
		Help: "Messages between the consumer's position and the end of its partitions (summed over the partitions it reads), as last fetched."})
	m.KafkaRedelivered = counter("cachesync_kafka_redelivered_messages_total",
		"Messages delivered again (at-least-once) after a restart or rebalance; deleting twice is harmless.")
	m.KafkaNewerVersion = counter("cachesync_kafka_newer_version_messages_total",
		"Messages in a format version newer than this consumer reads: the consumer stops before them (never commits past them) so an upgraded one can read them.")
}
