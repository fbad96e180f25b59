package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
)

// scrape parses p's whole /metrics page, so a malformed exposition fails.
func (e *env) scrape(p *proc) map[string]*dto.MetricFamily {
	e.t.Helper()
	_, body := e.get(p, "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// sample is the value of the family's series whose labels include want
// (name=value pairs), summed over the matching series; ok false when none.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			match := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					match = true
				}
			}
			if !match {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

// After writes, the metrics an on-call engineer reads are there and moved:
// rows and events by table and operation, keys invalidated in both phases,
// NULL-skipped keys, the commit→delete histogram, the checkpoint, the lag,
// the retention headroom and readiness.
func TestMetricsMoveAfterWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	p := e.start()
	e.waitReadyz(p, 10*time.Second, 200, "ready")
	before := e.scrape(p)
	cpBefore, _ := sample(before, "cachesync_checkpoint_position_bytes")

	keys := []string{"user:1", "user:2", "user:3", "user:email:u1@x.io", "user:email:u2@x.io"}
	e.setKeys(keys...)
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'u1@x.io'), (2, 'u2@x.io'), (3, NULL)")
	e.exec("UPDATE DB.users SET name = 'n' WHERE id IN (1, 2)")
	e.exec("DELETE FROM DB.users WHERE id = 2")
	table := e.name + ".users"
	e.waitMetric(p, 30*time.Second, `cachesync_keys_invalidated_total{phase="second"}`, 1)
	e.waitGone(10*time.Second, keys...)

	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Both deletes of every key, and the checkpoint saved past them.
		fams = e.scrape(p)
		second, _ := sample(fams, "cachesync_keys_invalidated_total", "phase", "second")
		first, _ := sample(fams, "cachesync_keys_invalidated_total", "phase", "first")
		cp, _ := sample(fams, "cachesync_checkpoint_position_bytes")
		if first > 0 && second == first && cp > cpBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: first deletes %v, second %v, checkpoint %v (was %v)", first, second, cp, cpBefore)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64 // at least; exactly when exact
		exact  bool
	}{
		{"cachesync_binlog_rows_total", []string{"table", table, "op", "insert"}, 3, true},
		{"cachesync_binlog_rows_total", []string{"table", table, "op", "update"}, 2, true},
		{"cachesync_binlog_rows_total", []string{"table", table, "op", "delete"}, 1, true},
		{"cachesync_binlog_events_total", []string{"table", table, "op", "insert"}, 1, true},
		{"cachesync_binlog_events_total", []string{"table", table, "op", "update"}, 1, true},
		{"cachesync_binlog_events_total", []string{"table", table, "op", "delete"}, 1, true},
		{"cachesync_keys_null_skipped_total", []string{"table", table}, 1, true},
		{"cachesync_keys_emitted_total", []string{"table", table}, 5, false},
		{"cachesync_keys_invalidated_total", []string{"phase", "first"}, 5, false},
		{"cachesync_commit_to_delete_seconds", nil, 1, false},
		{"cachesync_checkpoint_saves_total", nil, 1, false},
		{"cachesync_checkpoint_info", nil, 1, true},
		{"cachesync_ready", nil, 1, true},
		{"cachesync_inflight_batches", nil, 0, true},
	} {
		got, ok := sample(fams, c.name, c.labels...)
		switch {
		case !ok:
			t.Errorf("%s%v is missing", c.name, c.labels)
		case c.exact && got != c.want:
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		case !c.exact && got < c.want:
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.want)
		}
	}
	// Present from the start, whatever their value.
	for _, name := range []string{"cachesync_replication_lag_seconds", "cachesync_binlog_reconnects_total",
		"cachesync_binlog_retention_headroom_files", "cachesync_binlog_retention_headroom_bytes", "cachesync_binlog_behind_bytes", "cachesync_leader",
		"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := sample(fams, name); !ok {
			t.Errorf("%s is missing", name)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "cachesync_") && fams[name].GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// In Kafka mode the transport's own metrics move too: published (acked),
// consumed and done messages; then nothing waits for an ack and the
// consumer's lag is back at zero.
func TestKafkaMetricsMoveAfterWrites(t *testing.T) {
	t.Parallel()
	e, _ := newKafkaEnv(t, 2, "")
	e.enableMetrics()
	p := e.startKafkaRole(pipeline.RoleAll)
	e.setKeys(userKeysOf(1, 2, 3)...)
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'u1@x.io'), (2, 'u2@x.io'), (3, 'u3@x.io')")
	e.waitGone(30*time.Second, userKeysOf(1, 2, 3)...)
	e.waitMetric(p, 30*time.Second, "cachesync_kafka_done_messages_total", 3)
	// Then nothing is left waiting: every message acknowledged and read.
	deadline := time.Now().Add(30 * time.Second)
	var fams map[string]*dto.MetricFamily
	for {
		fams = e.scrape(p)
		pending, _ := sample(fams, "cachesync_kafka_publish_pending_messages")
		lag, _ := sample(fams, "cachesync_kafka_consumer_lag_messages")
		if pending == 0 && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %v messages wait for the broker's ack, the consumer lags by %v", pending, lag)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		name string
		min  float64
	}{
		{"cachesync_kafka_published_messages_total", 3},
		{"cachesync_kafka_consumed_messages_total", 3},
		{"cachesync_kafka_done_messages_total", 3},
	} {
		if got, _ := sample(fams, c.name); got < c.min {
			t.Errorf("%s = %v, want at least %v", c.name, got, c.min)
		}
	}
	if got, ok := sample(fams, "cachesync_kafka_publish_errors_total"); !ok || got != 0 {
		t.Errorf("cachesync_kafka_publish_errors_total = %v (present %v) with a healthy broker, want 0", got, ok)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
