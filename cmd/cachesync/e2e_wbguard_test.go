package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/writebehind"
)

// wbGuardScenario queues four write-behind writes while the tailer runs and
// the flusher does not, interferes with the cache the way readers and plain
// SQL do, then starts the flusher: the four rows are flushed in one
// transaction, the flusher's own, and the owned key of each must end as
// the case says. startTailer runs whatever invalidates (tailer and deleter,
// or tailer and Kafka consumer).
func wbGuardScenario(t *testing.T, e *env, startTailer func()) {
	ctx := context.Background()
	e.exec("INSERT INTO DB.items (id, name, qty) VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0), (4, 'd', 0)")
	startTailer()
	c := writebehind.New(e.rdb, "wb:items")
	refill := func(key, v string) { // a reader's cache-aside fill, as the README advises
		t.Helper()
		if ok, err := e.rdb.SetNX(ctx, key, v, 0).Result(); err != nil || !ok {
			t.Fatalf("refill %s: %v %v; want the key missing before the refill", key, ok, err)
		}
	}

	// 1: the happy path: nothing interferes, the flush keeps the written value.
	if _, err := c.Set(ctx, "item:1", "11", 0, e.wbRow(1), map[string]any{"qty": 11}); err != nil {
		t.Fatal(err)
	}
	// 2: a write-behind delete; a reader refills the old row before the flush.
	e.rdb.Set(ctx, "item:2", "0", 0)
	if _, err := c.Delete(ctx, "item:2", e.wbRow(2)); err != nil {
		t.Fatal(err)
	}
	refill("item:2", "0")
	// 3: the written value expires and a reader refills the old row.
	if _, err := c.Set(ctx, "item:3", "33", 300*time.Millisecond, e.wbRow(3), map[string]any{"qty": 33}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(10*time.Second, "item:3")
	refill("item:3", "0")
	// 4: a plain SQL write after the cached one; its invalidation is followed
	// by a refill, then the flush overwrites the row with the cached value.
	if _, err := c.Set(ctx, "item:4", "44", 0, e.wbRow(4), map[string]any{"qty": 44}); err != nil {
		t.Fatal(err)
	}
	e.exec("UPDATE DB.items SET qty = 40 WHERE id = 4")
	e.waitGone(30*time.Second, "item:4")
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db)) // its second delete is done too
	refill("item:4", "40")

	// The rule's other key of each row goes out with its owned key: once
	// they are gone, the flush's invalidations are done (with Kafka the
	// checkpoint says only that the messages are published).
	names := []string{"items:name:a", "items:name:b", "items:name:c", "items:name:d"}
	e.setKeys(names...)
	e.startRole("flusher", "flusher active")
	e.waitQty(30*time.Second, 4, 44)
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
	e.waitGone(30*time.Second, names...)
	r := e.db.Exec(t, e.qualify("SELECT COUNT(*) FROM DB.items WHERE id = 2"))
	if n, _ := r.GetInt(0, 0); n != 0 {
		t.Fatal("row 2 was not deleted by the flush")
	}
	get := func(key string) string {
		v, err := e.rdb.Get(ctx, key).Result()
		if err != nil {
			return fmt.Sprintf("<%v>", err)
		}
		return v
	}
	if v := get("item:1"); v != "11" {
		t.Errorf("happy path: item:1 = %s after its own flush; want it kept at 11 (the cache holds exactly what was flushed)", v)
	}
	if v := get("item:2"); v != "<redis: nil>" {
		t.Errorf("write-behind delete: item:2 = %s after the row's deletion was flushed; want it gone (a reader refilled the deleted row)", v)
	}
	if v := get("item:3"); v != "<redis: nil>" && v != "33" {
		t.Errorf("expired and refilled: item:3 = %s while MySQL holds 33; want it gone or 33", v)
	}
	if v := get("item:4"); v != "<redis: nil>" && v != "44" {
		t.Errorf("plain SQL write then refill: item:4 = %s while MySQL holds 44; want it gone or 44", v)
	}
}

// TestWriteBehindGuard: the direct transport (tailer and deleter in one process).
func TestWriteBehindGuard(t *testing.T) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema}, wbRules, "")
	wbGuardScenario(t, e, func() {
		e.startRole("tailer", "starting at the primary's current position")
	})
}

// TestWriteBehindGuardKafka: the same through Kafka, tailer and consumer in
// their own processes.
func TestWriteBehindGuardKafka(t *testing.T) {
	c := testenv.StartKafkaCluster(t)
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 2, commit_interval: 50ms}
`, c.ListenAddrs()[0], kafkaTopic)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema}, wbRules, transport)
	// No second delete: the scenario cannot see when a consumer's second
	// delete is done (TestWriteBehindGuard runs the guard in both phases).
	e.editConfig("delete: {second_delay: 200ms}", "delete: {second_delay: 0s}")
	wbGuardScenario(t, e, func() {
		e.startKafkaRole("tailer")
		e.startKafkaRole(pipeline.RoleConsumer)
	})
}

// An owned template on a column that is not the primary key would keep a
// key the row no longer maps to: refused at start and by the online check.
func TestWriteBehindOwnedKeyNotPrimaryKey(t *testing.T) {
	rules := strings.Replace(wbRules, `keys: ["item:{id}"]`, `keys: ["item:{id}", "items:name:{name}"]`, 1)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema}, rules, "")
	want := []string{`"items:name:{name}"`, `column "name"`, "primary key", "write_behind.keys"}
	r := runCLI(t, 30*time.Second, nil, "run", "--config", e.cfg, "--role", "tailer")
	if r.code == 0 {
		t.Fatalf("run with an owned key on a non-primary-key column: want a failure:\n%v", r)
	}
	wantFailure(t, r, want)
	r = runCLI(t, 30*time.Second, nil, "config", "check", "--config", e.cfg, "--online")
	if r.code == 0 {
		t.Fatalf("config check --online: want a failure:\n%v", r)
	}
	wantFailure(t, r, want)
}
