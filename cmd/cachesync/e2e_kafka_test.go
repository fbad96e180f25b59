package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/sink/kafkamsg"
)

// End-to-end tests of the Kafka transport: the real binary in its roles,
// MariaDB and Redis started by the project, kfake as the broker.

const kafkaTopic = "cache-invalidation"

// newKafkaEnv is newEnv with transport.kind kafka on a fresh in-process
// broker; extra is more top-level YAML (e.g. a checkpoint override).
func newKafkaEnv(t *testing.T, partitions int, extra string) (*env, *kfake.Cluster) {
	t.Helper()
	c := testenv.StartKafkaCluster(t)
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: %d, commit_interval: 50ms}
%s`, c.ListenAddrs()[0], kafkaTopic, partitions, extra)
	return newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, transport), c
}

// startKafkaRole runs `cachesync run --role role` and waits until the role
// is working: streaming for a tailer, in the group for a consumer.
func (e *env) startKafkaRole(role string) *proc {
	e.t.Helper()
	if role == pipeline.RoleConsumer {
		return e.startRole(role, `"msg":"consuming"`)
	}
	return e.startRole(role, "starting at the primary's current position", "resuming from checkpoint")
}

// savedCheckpoint waits for the checkpoint file (written once at start).
func (e *env) savedCheckpoint() binPos {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pos, ok := e.readCheckpoint(); ok {
			return pos
		}
		if time.Now().After(deadline) {
			e.t.Fatal("no checkpoint file after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// topicRows reads the whole topic and counts messages per row change
// (row identity and binlog position): a count above one is a duplicate.
func topicRows(t *testing.T, broker string, partitions int) (changes map[string]int, keys map[string]bool) {
	t.Helper()
	changes, keys = map[string]int{}, map[string]bool{}
	for p := 0; p < partitions; p++ {
		for _, m := range partitionMessages(t, broker, p) {
			dm, err := kafkamsg.Decode(m.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, m.Offset, err)
			}
			changes[fmt.Sprintf("%s@%s", dm.Row, dm.Pos)]++
			for _, k := range dm.Keys {
				keys[k] = true
			}
		}
	}
	return changes, keys
}

// partitionMessages reads one partition of kafkaTopic from the start.
func partitionMessages(t *testing.T, broker string, p int) []kafka.Message {
	return testenv.ReadPartition(t, broker, kafkaTopic, p)
}

func TestKafkaRunAllInOneProcess(t *testing.T) {
	t.Parallel()
	for _, message := range []string{"row", "batch"} {
		t.Run("message="+message, func(t *testing.T) {
			t.Parallel()
			e, c := newKafkaEnv(t, 3, "")
			e.editConfig("commit_interval: 50ms", "commit_interval: 50ms, message: "+message)
			p := e.start()
			e.setKeys("user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io")
			e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann'), (2, 'b@x.io', 'Bob')")
			e.waitGone(20*time.Second, "user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io")
			// An email change invalidates the old and the new email key.
			e.setKeys("user:1", "user:email:a@x.io", "user:email:new@x.io")
			e.exec("UPDATE DB.users SET email = 'new@x.io' WHERE id = 1")
			e.waitGone(20*time.Second, "user:1", "user:email:a@x.io", "user:email:new@x.io")
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit %d after SIGTERM:\n%s", code, p.out.String())
			}
			changes, _ := topicRows(t, c.ListenAddrs()[0], 3)
			want := map[string]int{ // message key @ binlog position
				"row":   3, // two inserted rows, one updated row
				"batch": 2, // one rows event per statement
			}[message]
			if len(changes) != want {
				t.Errorf("%d messages, want %d: %v", len(changes), want, changes)
			}
			for k := range changes {
				isRow := strings.Contains(k, `:"`)
				if isRow != (message == "row") {
					t.Errorf("message key %s with message: %s", k, message)
				}
			}
		})
	}
}

// A tailer and two consumers in one group: every key goes, and both
// consumers take part.
func TestKafkaRunTailerAndTwoConsumers(t *testing.T) {
	t.Parallel()
	e, c := newKafkaEnv(t, 4, "")
	e.seedUsers(400)
	e.startKafkaRole(pipeline.RoleTailer)
	c1 := e.startKafkaRole(pipeline.RoleConsumer)
	c2 := e.startKafkaRole(pipeline.RoleConsumer)
	ids := seq(1, 400)
	for round := 0; round < 20; round++ {
		keys := userKeysOf(ids...)
		e.setKeys(keys...)
		e.exec(fmt.Sprintf("UPDATE DB.users SET name = 'r%d' WHERE id <= 400", round))
		e.waitGone(30*time.Second, keys...)
		if round >= 2 && bothConsumed(c1, c2) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !bothConsumed(c1, c2) {
		t.Errorf("one consumer never deleted anything: the group did not share the partitions")
	}
	_, keys := topicRows(t, c.ListenAddrs()[0], 4)
	for _, k := range userKeysOf(ids...) {
		if !keys[k] {
			t.Fatalf("key %q never published", k)
		}
	}
}

// bothConsumed reports whether each consumer has read some partition.
func bothConsumed(a, b *proc) bool {
	return a.logHas(`"msg":"reading partition"`) && b.logHas(`"msg":"reading partition"`)
}

// kill -9 of the tailer after Kafka acknowledged and before the checkpoint
// was saved (min_interval keeps it from saving): the restart publishes the
// same changes again — counted as duplicates — and nothing is missing.
func TestKafkaTailerKill9AfterAckBeforeCheckpoint(t *testing.T) {
	t.Parallel()
	e, c := newKafkaEnv(t, 2, "")
	e.editConfig("min_interval: 100ms", "min_interval: 1h")
	e.seedUsers(50)
	tailer := e.startKafkaRole(pipeline.RoleTailer)
	e.startKafkaRole(pipeline.RoleConsumer)
	keys := userKeysOf(seq(1, 50)...)
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET name = 'x' WHERE id <= 50")
	e.waitGone(20*time.Second, keys...) // published, acknowledged, consumed
	saved := e.savedCheckpoint()
	tailer.kill9(t)
	after, _ := e.readCheckpoint()
	if after != saved {
		t.Fatalf("checkpoint moved from %v to %v", saved, after)
	}
	// Readers re-cache the rows meanwhile; the restarted tailer publishes the
	// changes after the checkpoint again, so those entries go too.
	e.setKeys(keys...)
	e.startKafkaRole(pipeline.RoleTailer)
	e.waitGone(20*time.Second, keys...)
	changes, _ := topicRows(t, c.ListenAddrs()[0], 2)
	dups := 0
	for _, n := range changes {
		if n > 1 {
			dups += n - 1
		}
	}
	if len(changes) != 50 || dups == 0 {
		t.Errorf("%d distinct row changes and %d duplicates in the topic, want 50 and some duplicates", len(changes), dups)
	}
	t.Logf("duplicates after the restart: %d of %d row changes", dups, len(changes))
}

// kill -9 of the tailer while the broker refuses every write: nothing was
// acknowledged, so the checkpoint did not move, and after the restart
// (broker healthy again) every key is invalidated.
func TestKafkaTailerKill9BeforeAck(t *testing.T) {
	t.Parallel()
	e, c := newKafkaEnv(t, 2, "")
	e.seedUsers(50)
	tailer := e.startKafkaRole(pipeline.RoleTailer)
	e.startKafkaRole(pipeline.RoleConsumer)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	testenv.RefuseProduce(c, &refuse, &refused)
	e.savedCheckpoint()
	keys := userKeysOf(seq(1, 50)...)
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET name = 'y' WHERE id <= 50")
	afterUpdate := masterPos(t, e.db) // at or after the UPDATE's end
	deadline := time.Now().Add(20 * time.Second)
	for refused.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if refused.Load() < 3 {
		t.Fatal("the tailer never tried to publish")
	}
	tailer.kill9(t)
	if left := e.exists(keys...); len(left) != len(keys) {
		t.Fatalf("%d keys deleted although the broker acknowledged nothing", len(keys)-len(left))
	}
	// Other tests' transactions on the shared server may move it, but never
	// past the unacknowledged UPDATE; the restart below proves it replays.
	if now, _ := e.readCheckpoint(); now.cmp(afterUpdate) >= 0 {
		t.Fatalf("checkpoint %v is past the UPDATE (ends by %v) that kafka never acknowledged", now, afterUpdate)
	}
	refuse.Store(false)
	e.startKafkaRole(pipeline.RoleTailer)
	e.waitGone(30*time.Second, keys...)
}

// kill -9 of a consumer that fetched messages while Redis was down: its
// offsets were never committed, so the restarted consumer gets them again.
func TestKafkaConsumerKill9WhileRedisDown(t *testing.T) {
	t.Parallel()
	e, _ := newKafkaEnv(t, 2, "")
	e.seedUsers(50)
	e.startKafkaRole(pipeline.RoleTailer)
	consumer := e.startKafkaRole(pipeline.RoleConsumer)
	e.redis.Stop(t)
	e.exec("UPDATE DB.users SET name = 'z' WHERE id <= 50")
	e.waitLog(consumer, "redis delete failed") // it fetched and cannot delete
	time.Sleep(300 * time.Millisecond)
	consumer.kill9(t)
	e.redis.Start(t) // persistence is off: it comes back empty
	keys := userKeysOf(seq(1, 50)...)
	e.setKeys(keys...)
	e.startKafkaRole(pipeline.RoleConsumer)
	e.waitGone(30*time.Second, keys...)
}

// A missing topic that cachesync may not create stops every role at start
// with one message naming the topic and both ways out.
func TestKafkaMissingTopic(t *testing.T) {
	t.Parallel()
	e, _ := newKafkaEnv(t, 1, "")
	e.editConfig("create_topic: true", "create_topic: false")
	for _, role := range []string{pipeline.RoleTailer, pipeline.RoleConsumer} {
		r := runCLI(t, 60*time.Second, nil, "run", "--config", e.cfg, "--role", role)
		if r.code == 0 {
			t.Fatalf("--role %s with a missing topic: exit 0:\n%v", role, r)
		}
		wantFailure(t, r, []string{`kafka topic "` + kafkaTopic + `"`, "does not exist", "create_topic: true"})
	}
}

// The broker is closed for 30 s and restarted on the same port with its
// data while writes continue: the checkpoint never passes a write Kafka did
// not acknowledge, and after the restart every write's keys are gone.
func TestKafkaBrokerDownThirtySeconds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("cachesync-restart"), kfake.DefaultNumPartitions(1), kfake.DataDir(dir)}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	_, portStr, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portStr)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 2, commit_interval: 50ms}
`, addr, kafkaTopic))
	const n = 400
	e.seedUsers(n)
	e.setKeys(userKeysOf(seq(1, n)...)...)
	p := e.start()
	w := startWriter(t, e.db, e.renames("r", seq(1, n)...), func(int) { time.Sleep(50 * time.Millisecond) })
	w.waitExecuted(t, 30*time.Second, 40)
	c.Close()
	closed := w.executed()
	time.Sleep(30 * time.Second)
	// Writes went on; none after the close can have been acknowledged.
	cp, _ := e.readCheckpoint()
	_, after := w.positions()
	if closed+1 >= len(after) {
		t.Fatalf("only %d statements ran during the outage", len(after)-closed)
	}
	if first := after[closed+1]; cp.cmp(first) >= 0 {
		t.Fatalf("checkpoint %v is at or past the end (%v) of a write made while the broker was down", cp, first)
	}
	p.alive(t)
	c2, err := kfake.NewCluster(append(opts, kfake.Ports(port))...)
	if err != nil {
		t.Fatalf("restart the broker on port %d: %v", port, err)
	}
	t.Cleanup(c2.Close)
	w.wait(t, 2*time.Minute)
	e.waitGone(60*time.Second, userKeysOf(seq(1, n)...)...)
	t.Logf("%d of %d statements ran before the broker closed; checkpoint during the outage %v", closed, n, cp)
}

// A consumer killed after deleting but before committing: its messages are
// delivered again, so keys re-cached meanwhile go too.
func TestKafkaConsumerKill9BeforeCommit(t *testing.T) {
	t.Parallel()
	e, _ := newKafkaEnv(t, 2, "")
	e.editConfig("commit_interval: 50ms", "commit_interval: 1h") // it never commits
	e.seedUsers(30)
	e.startKafkaRole(pipeline.RoleTailer)
	consumer := e.startKafkaRole(pipeline.RoleConsumer)
	keys := userKeysOf(seq(1, 30)...)
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET name = 'k' WHERE id <= 30")
	e.waitGone(20*time.Second, keys...)
	time.Sleep(300 * time.Millisecond) // the second deletes
	consumer.kill9(t)
	e.setKeys(keys...) // readers re-cached the rows (even a stale read)
	e.editConfig("commit_interval: 1h", "commit_interval: 50ms")
	e.startKafkaRole(pipeline.RoleConsumer)
	e.waitGone(30*time.Second, keys...)
}

// One row changed many times: its messages sit in one partition in binlog
// order.
func TestKafkaRowOrder(t *testing.T) {
	t.Parallel()
	e, c := newKafkaEnv(t, 4, "")
	e.seedUsers(3)
	e.startKafkaRole(pipeline.RoleTailer)
	for i := 0; i < 60; i++ {
		e.exec(fmt.Sprintf("UPDATE DB.users SET name = 'v%d' WHERE id = %d", i, 1+i%3))
	}
	want := masterPos(t, e.db)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if cp, ok := e.readCheckpoint(); ok && cp.cmp(want) >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint did not reach the last update: not everything was published")
		}
		time.Sleep(20 * time.Millisecond)
	}
	broker := c.ListenAddrs()[0]
	partitionOf := map[string]int{}
	last := map[string]binPos{}
	count := map[string]int{}
	for p := 0; p < 4; p++ {
		for _, m := range partitionMessages(t, broker, p) {
			dm, err := kafkamsg.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if q, ok := partitionOf[dm.Row]; ok && q != p {
				t.Errorf("row %s in partitions %d and %d", dm.Row, q, p)
			}
			partitionOf[dm.Row] = p
			pos := binPos{File: dm.Pos.File, Pos: dm.Pos.Pos}
			if prev, ok := last[dm.Row]; ok && pos.cmp(prev) <= 0 {
				t.Errorf("row %s: message at %v after one at %v", dm.Row, pos, prev)
			}
			last[dm.Row] = pos
			count[dm.Row]++
		}
	}
	if len(count) != 3 {
		t.Fatalf("messages for %d rows, want 3: %v", len(count), count)
	}
	for row, n := range count {
		if n != 20 {
			t.Errorf("row %s: %d messages, want 20", row, n)
		}
	}
}
