package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
)

// A change Kafka can never carry — a key larger than a message — must not
// stall the stream: its keys are deleted straight from Redis (first and
// second delete), counted and logged, and the changes after it go through
// Kafka as usual.

const docsSchema = "CREATE TABLE DB.docs (id BIGINT UNSIGNED PRIMARY KEY, body MEDIUMTEXT)"

const docsRules = `  - table: DB.docs
    keys: ["doc:{id}", "doc:body:{body}"]
`

func newDocsKafkaEnv(t *testing.T, kafkaExtra string) *env {
	t.Helper()
	c := testenv.StartKafkaCluster(t)
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 1, commit_interval: 50ms%s}
`, c.ListenAddrs()[0], kafkaTopic, kafkaExtra)
	return newEnv(t, testenv.SharedMariaDB(t), []string{docsSchema}, docsRules, transport)
}

func TestKafkaOversizedKeyIsDeletedStraightFromRedis(t *testing.T) {
	t.Parallel()
	for reason, extra := range map[string]string{
		"split":  "",                             // the publisher's own limit (1 MiB)
		"broker": ", max_message_bytes: 8388608", // kfake keeps message.max.bytes at ~1 MiB
	} {
		t.Run(reason, func(t *testing.T) {
			t.Parallel()
			e := newDocsKafkaEnv(t, extra)
			p := e.start()
			big := strings.Repeat("x", 2<<20)
			bigKey := "doc:body:" + big
			e.setKeys("doc:1", bigKey, "doc:2", "doc:body:small")
			e.exec("INSERT INTO DB.docs (id, body) VALUES (1, ?)", big)
			e.exec("INSERT INTO DB.docs (id, body) VALUES (2, 'small')")
			// The change after the oversized one goes through; the oversized
			// one's keys are gone too.
			e.waitGone(30*time.Second, "doc:2", "doc:body:small", "doc:1")
			for deadline := time.Now().Add(10 * time.Second); len(e.exists(bigKey)) > 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the 2 MiB key is still cached")
				}
			}
			e.waitLog(p, "deleted straight from redis")
			if !p.logHas(`"table":"`+e.name+`.docs"`, `"key_prefix":"doc:body:xxxx`, `"reason":"`+reason+`"`) {
				t.Errorf("the bypass log line does not name the table and the key:\n%.3000s", p.out.String())
			}
			// The checkpoint passes both changes.
			end := masterPos(t, e.db)
			e.waitCheckpoint(30*time.Second, end)
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit %d after SIGTERM:\n%.3000s", code, p.out.String())
			}
		})
	}
}

// Whatever is stuck, SIGTERM ends the process within shutdown.timeout (and
// a few seconds): here the broker acknowledges nothing, so the publisher
// can never finish. It exits 1 naming what was stuck, and the checkpoint
// stays before the unacknowledged change.
func TestShutdownTimeoutEndsAStuckStop(t *testing.T) {
	t.Parallel()
	e, refuse := newRefusingKafkaEnv(t, "commit_interval: 50ms")
	p := e.startKafkaRole(pipeline.RoleTailer)
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	time.Sleep(300 * time.Millisecond) // a save of the start position lands (min_interval 100ms)
	before := e.savedCheckpoint()
	refuse.Store(true)
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitLog(p, "kafka did not acknowledge messages; retrying them")

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("SIGTERM did not end the process within 30s (shutdown.timeout 2s):\n%.5000s", p.out.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d after a stop that timed out, want 1", code)
	}
	if !p.logHas("shutdown.timeout passed", "messages not acknowledged by kafka") {
		t.Errorf("no line names the timeout and what was stuck:\n%.5000s", p.out.String())
	}
	after, _ := e.readCheckpoint()
	if after.cmp(masterPos(t, e.db)) >= 0 {
		t.Errorf("checkpoint %v passed the unacknowledged update (binlog end %v; before %v)", after, masterPos(t, e.db), before)
	}
}
