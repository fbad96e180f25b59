package metrics

func (m *Metrics) newKafka() {
	m.KafkaPublished = counter("cachesync_kafka_published_messages_total", "Messages the broker acknowledged (acks=all).")
	m.KafkaPublishErrors = counter("cachesync_kafka_publish_errors_total", "Failed produce attempts; the messages are retried, never dropped.")
	m.KafkaPublishPending = gauge("cachesync_kafka_publish_pending_messages",
		"Messages handed to the Kafka writer and not yet acknowledged by the broker.")
	m.KafkaConsumed = counter("cachesync_kafka_consumed_messages_total", "Messages fetched by the consumer.")
	m.KafkaDone = counter("cachesync_kafka_done_messages_total", "Messages fully handled by the consumer: both deletes done, or dead-lettered.")
	m.KafkaCommitErrors = counter("cachesync_kafka_commit_errors_total", "Failed offset commits; retried at the next commit.")
	m.KafkaDeadLettered = counterVec("cachesync_kafka_dlq_messages_total",
		"Undecodable messages sent to the DLQ topic, by reason (decode; version: an unknown version older than the current one).", "reason")
	m.KafkaBypassed = counterVec("cachesync_kafka_bypassed_changes_total",
		"Changes Kafka can never carry (a key larger than a message: reason split; the broker refusing the size: reason broker), whose keys the tailer deleted straight from Redis instead. Any increase is an alarm: a key that large is probably a bug in a rule.", "reason")
	m.KafkaConsumerLag = gauge("cachesync_kafka_consumer_lag_messages",
		"Messages between the consumer's position and the end of its partitions (summed over the partitions it reads), as last fetched.")
	m.KafkaRedelivered = counter("cachesync_kafka_redelivered_messages_total",
		"Messages delivered again (at-least-once) after a restart or rebalance; deleting twice is harmless.")
	m.KafkaNewerVersion = counter("cachesync_kafka_newer_version_messages_total",
		"Messages in a format version newer than this consumer reads: the consumer stops before them (never commits past them) so an upgraded one can read them.")
}
