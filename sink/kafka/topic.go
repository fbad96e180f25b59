package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TopicSpec is a topic cachesync needs.
type TopicSpec struct {
	Name       string
	Partitions int  // when created; 0: the broker's default
	Create     bool // create it when missing (transport.kafka.create_topic)
	Role       string
}

// EnsureTopics checks that every topic exists, creating the missing ones
// whose spec allows it. A missing topic that may not be created is one
// clear error naming it and the two ways out. The broker being unreachable
// is an error too: the caller decides whether to wait.
func EnsureTopics(ctx context.Context, brokers []string, transport kafkago.RoundTripper, specs ...TopicSpec) error {
	cl := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: transport, Timeout: 10 * time.Second}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	meta, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("kafka brokers %v: cannot read topic metadata: %w (check transport.kafka.brokers, and tls/sasl if the cluster needs them)", brokers, err)
	}
	exists := map[string]bool{}
	for _, t := range meta.Topics {
		if t.Error == nil && len(t.Partitions) > 0 {
			exists[t.Name] = true
		}
	}
	var create []kafkago.TopicConfig
	var errs []error
	var missing []string
	for _, s := range specs {
		switch {
		case exists[s.Name]:
		case s.Create:
			n := s.Partitions
			if n <= 0 {
				n = -1 // broker default
			}
			create = append(create, kafkago.TopicConfig{Topic: s.Name, NumPartitions: n, ReplicationFactor: -1})
		default:
			missing = append(missing, s.Name)
			errs = append(errs, fmt.Errorf("kafka topic %q (%s) does not exist: create it (kafka-topics.sh --create --topic %s --partitions N), or set transport.kafka.create_topic: true to let cachesync create it with transport.kafka.partitions partitions",
				s.Name, s.Role, s.Name))
		}
	}
	if len(errs) > 0 {
		return &MissingTopicError{Topics: missing, Err: errors.Join(errs...)}
	}
	if len(create) == 0 {
		return nil
	}
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: create})
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("kafka: create topic %q: %w", name, terr))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitTopics(ctx, cl, names)
}

// MissingTopicError is a topic that does not exist and may not be created:
// waiting does not help.
type MissingTopicError struct {
	Topics []string
	Err    error
}

func (e *MissingTopicError) Error() string { return e.Err.Error() }
func (e *MissingTopicError) Unwrap() error { return e.Err }

// waitTopics waits until the metadata shows every new topic with its
// partitions, so the first write does not race the broker's own creation.
func waitTopics(ctx context.Context, cl *kafkago.Client, names []string) error {
	for i := 0; i < 100; i++ {
		meta, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: names})
		ready := err == nil
		if ready {
			for _, t := range meta.Topics {
				ready = ready && t.Error == nil && len(t.Partitions) > 0
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("kafka: topics %v created but not visible in metadata after 5s", names)
}
