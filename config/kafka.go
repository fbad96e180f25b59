package config

import (
	"time"
)

// KafkaConfig is used when Transport.Kind is kafka.
type KafkaConfig struct {
	Brokers     []string `yaml:"brokers"`
	Topic       string   `yaml:"topic"`
	Group       string   `yaml:"group"`
	DLQTopic    string   `yaml:"dlq_topic"`
	Partitions  int      `yaml:"partitions"`
	CreateTopic bool     `yaml:"create_topic"`

	TLS  TLSConfig  `yaml:"tls"`  // off unless enabled or a key is set
	SASL SASLConfig `yaml:"sasl"` // off unless a key is set

	// Message is what one Kafka message carries: row (default) — one row
	// change, keyed by the row's table and primary key, so each row's changes
	// stay in order in one partition and tables spread over partitions; or
	// batch — one binlog rows event (up to a few hundred rows), keyed by the
	// table, about ten times cheaper per row, with one table in one partition.
	Message string `yaml:"message"`

	// ConnectTimeout bounds connecting to a broker (TLS and SASL included)
	// and each start-up metadata request: a broker address that accepts and
	// never answers fails the attempt after this long; default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ClientID names cachesync to the brokers (logs, quotas); default cachesync.
	ClientID string `yaml:"client_id"`
	// BatchTimeout is the longest the publisher waits to fill a batch; default 1ms.
	BatchTimeout Duration `yaml:"batch_timeout"`
	// BatchSize is the most messages in one produce batch; default 1000.
	BatchSize int `yaml:"batch_size"`
	// MaxMessageBytes caps one produce request's size, and so one record;
	// default 1048576 (1 MiB): kafka-go's Writer.BatchBytes default and,
	// with the framing the split reserves, within the broker's
	// message.max.bytes default (1048588).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// CommitInterval is how often the consumer commits the offsets of fully
	// done messages; default 200ms.
	CommitInterval Duration `yaml:"commit_interval"`
	// MaxInFlight is how many messages the publisher holds unacknowledged
	// before the tailer blocks; default 8000.
	MaxInFlight int `yaml:"max_in_flight"`
	// ConsumerMaxInFlight is how many messages a consumer holds fetched and
	// not yet deleted twice before it stops fetching; default 200000. Every
	// message waits delete.second_delay, so a consumer's rate is at most
	// this / second_delay.
	ConsumerMaxInFlight int `yaml:"consumer_max_in_flight"`
}

// DialTimeout is connect_timeout, or its default when 0 (a Config built in
// Go rather than loaded).
func (c KafkaConfig) DialTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout.D()
	}
	return Default().Transport.Kafka.ConnectTimeout.D()
}

// MetadataTimeout bounds one attempt to read (and create) the topics:
// connecting, plus the answers, which a broker that accepts and never
// answers never sends.
func (c KafkaConfig) MetadataTimeout() time.Duration { return 2 * c.DialTimeout() }

// DeadLetterTopic is dlq_topic, or the topic's name + ".dlq".
func (c KafkaConfig) DeadLetterTopic() string {
	if c.DLQTopic != "" {
		return c.DLQTopic
	}
	return c.Topic + ".dlq"
}

// SASLConfig authenticates to Kafka. It is used when any key is set, and
// then mechanism, username and one of password or password_file are required.
type SASLConfig struct {
	Mechanism    string `yaml:"mechanism"` // plain | scram-sha-256 | scram-sha-512
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`      // use ${VAR}; never logged
	PasswordFile string `yaml:"password_file"` // alternative to password
}

// Active reports whether SASL is configured at all.
func (s SASLConfig) Active() bool { return s != SASLConfig{} }

// Warnings lists settings that are valid but unsafe, for whoever connects to
// log loudly at start-up; none for a safe config.
func (c KafkaConfig) Warnings() []string {
	var w []string
	if c.TLS.InsecureSkipVerify {
		w = append(w, skipVerifyWarning("transport.kafka.tls", "the brokers'", "invalidations (and SASL credentials)"))
	}
	if c.SASL.Mechanism == "plain" && !c.TLS.Active() {
		w = append(w, "transport.kafka.sasl.mechanism plain without tls sends the Kafka password in clear text: "+
			"turn on transport.kafka.tls, or use scram-sha-512")
	}
	return w
}
