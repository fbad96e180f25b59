// Package kafka is the Kafka transport between the tailer and the Redis
// deleter: the publisher (the tailer's side, acknowledging a batch once the
// brokers hold all of it), the consumer (the deleters' side, committing an
// offset once its keys are deleted twice), the bypass that deletes directly
// what Kafka can never carry, topic creation, and the connection settings
// (TLS, SASL) every client shares. The message format is sink/kafkamsg.
package kafka
