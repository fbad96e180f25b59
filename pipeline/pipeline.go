// Package pipeline runs cachesync's three sides and holds the order they
// start and stop in, so that order can be tested without the binary.
//
// The tailer side (Tailer) reads the binlog, hands each batch of keys to an
// event.Output — the Redis deleter, or the Kafka publisher — and saves the
// checkpoint once the output has acknowledged every batch before it. With a
// checkpoint in Redis, only the holder of the leader lease streams; the
// other instances stand by to take over. The consumer side (Consumer) reads
// the Kafka topic and deletes. The flusher side (Flushers) writes
// write-behind streams to MySQL. Run starts the sides a role names, with
// the watchers that feed readiness (Health, what /readyz reports).
//
// Shutdown order, on a graceful stop (soft context ends): the tailer stops
// taking from the binlog; the output is closed and drains, acknowledging
// what it finishes; then the checkpoint saver stops and one final save
// writes the furthest position whose batches are all acknowledged, never
// past one that is not. A stop that takes longer than shutdown.timeout
// turns hard: every part stops at once and the final save keeps only what
// is done; the rest is replayed after a restart. A leader that loses its
// lease stops hard the same way, and its saves are refused from then on.
package pipeline

import (
	"cmp"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/metrics"
)

// Deps are what every side is given instead of globals.
type Deps struct {
	Log     *zap.Logger
	Metrics *metrics.Metrics
	Health  *Health

	// FinalSave bounds the last checkpoint save and the consumer's last
	// commit at a stop; default 10s.
	FinalSave time.Duration
	// HardGrace is how long a hard stop may take before the process exits
	// on its own; default 10s.
	HardGrace time.Duration
	// Exit ends the process when even a hard stop hangs; default os.Exit.
	Exit func(code int)
}

func (d Deps) log() *zap.Logger {
	if d.Log == nil {
		return zap.NewNop()
	}
	return d.Log
}

func (d Deps) finalSave() time.Duration { return cmp.Or(d.FinalSave, 10*time.Second) }
func (d Deps) hardGrace() time.Duration { return cmp.Or(d.HardGrace, 10*time.Second) }

func (d Deps) exit(code int) {
	if d.Exit != nil {
		d.Exit(code)
		return
	}
	os.Exit(code)
}
