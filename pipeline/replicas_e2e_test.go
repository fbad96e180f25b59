package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// replicaWorld is a primary, a MariaDB replica of it, Redis and cachesync
// (in-process) with delete.second: replicas.
type replicaWorld struct {
	t        *testing.T
	primary  *testenv.MariaDB
	replica  *testenv.MariaDB
	rdb      *redis.Client
	m        *metrics.Metrics
	reg      *prometheus.Registry
	logs     *observer.ObservedLogs
	h        *Health
	ctx      context.Context
	version  int // updates made, each seen by cachesync
	maxWait  time.Duration
	replName string
}

func startReplicaWorld(t *testing.T, transport string) *replicaWorld {
	p := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	r := testenv.StartMariaDBReplica(t, p)
	rd := testenv.StartRedis(t)
	p.Exec(t, "CREATE DATABASE shop")
	p.Exec(t, "CREATE TABLE shop.items (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)")
	p.Exec(t, "INSERT INTO shop.items VALUES (1, 0)")
	r.WaitApplied(t, p)
	w := &replicaWorld{t: t, primary: p, replica: r, rdb: rd.Client(t), ctx: context.Background(), maxWait: 4 * time.Second, replName: "replica-ä"}
	// cachesync starts at this position, so it sees every update the test
	// makes and the delete counters below count exactly two keys per
	// update: starting at "the primary's current position" left it unknown
	// which of the first updates it saw, and a late delete of one could pass
	// for the next phase's.
	file, pos := p.MasterStatus(t)
	posPath := filepath.Join(t.TempDir(), "pos")
	if err := os.WriteFile(posPath, []byte(fmt.Sprintf(`{"version":1,"file":%q,"pos":%d}`+"\n", file, pos)), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := ""
	if transport == "kafka" {
		tr = fmt.Sprintf("transport: {kind: kafka, kafka: {brokers: [%s], topic: inv, group: g, create_topic: true, partitions: 2}}\n", testenv.StartKafka(t))
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`source: {addr: %s, user: root, flavor: mariadb, server_id: %d, heartbeat_period: 1s}
checkpoint: {store: file, path: %s}
redis: {addrs: [%s]}
retry: {initial: 20ms, max: 500ms}
delete: {second: replicas, replica_max_wait: %s}
replicas:
  - {name: %s, addr: %s, user: root}
%srules:
  - table: shop.items
    keys: ["item:{id}", "itém:🙂:{id}"]
`, p.Addr, p.ReplicaServerID(), posPath, rd.Addr, w.maxWait, w.replName, r.Addr, tr)), "replicas.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	w.logs, w.reg = logs, prometheus.NewRegistry()
	w.m = metrics.New(w.reg)
	w.h = NewHealth(zap.New(core), nil)
	soft, stop := context.WithCancel(context.Background())
	hard, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(soft, hard, RoleAll, cfg, Deps{Log: zap.New(core), Metrics: w.m, Health: w.h})
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cachesync: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("cachesync did not stop")
		}
		kill()
	})
	// Streaming: an update's key is deleted.
	w.set("x")
	w.update()
	if !w.gone(60 * time.Second) {
		t.Fatalf("cachesync never deleted the key; logs: %v", logs.All())
	}
	if logs.FilterMessageSnippet("resuming from checkpoint").Len() == 0 {
		t.Fatalf("cachesync did not start at the recorded position; logs: %v", logs.All())
	}
	return w
}

const e2eKey = "itém:🙂:1"

func (w *replicaWorld) set(v string) {
	w.t.Helper()
	if err := w.rdb.Set(w.ctx, e2eKey, v, 0).Err(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *replicaWorld) update() {
	w.version++
	w.primary.Exec(w.t, "UPDATE shop.items SET version = ? WHERE id = 1", w.version)
}

// gone waits at most d for the key to be deleted.
func (w *replicaWorld) gone(d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if n, _ := w.rdb.Exists(w.ctx, e2eKey).Result(); n == 0 {
			return true
		}
	}
	return false
}

// settled waits until both deletes of every update so far are done (each
// update invalidates the row's two keys), so a phase sees only its own.
func (w *replicaWorld) settled() {
	w.t.Helper()
	want := float64(2 * w.version)
	done := func(phase string) bool { return w.deleted(phase) >= want }
	for end := time.Now().Add(60 * time.Second); !done("first") || !done("second"); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			w.t.Fatalf("the deletes of %d updates did not finish; logs: %v", w.version, w.logs.All())
		}
	}
}

func (w *replicaWorld) deleted(phase string) float64 {
	return testutil.ToFloat64(w.m.Invalidated.WithLabelValues(phase))
}

func (w *replicaWorld) atBound() float64 {
	return testutil.ToFloat64(w.m.Replicas.AtBound.WithLabelValues(w.replName))
}

func (w *replicaWorld) waits() uint64 {
	mfs, err := w.reg.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cachesync_second_delete_wait_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// firstDeleteThenStale waits for the first delete of an update and then
// caches a stale value, as a reader filling from the lagging replica would.
func (w *replicaWorld) firstDeleteThenStale() {
	w.t.Helper()
	w.set("old")
	w.update()
	if !w.gone(20 * time.Second) {
		w.t.Fatal("the first delete did not come")
	}
	w.set("stale")
}

// The second delete waits for the replica: stopped, it goes at
// replica_max_wait with a warning and a metric naming the replica; started
// again, it goes once the replica applied the transaction, not at the bound.
func TestSecondDeleteWaitsForReplica(t *testing.T) {
	for _, transport := range []string{"direct", "kafka"} {
		t.Run(transport, func(t *testing.T) {
			w := startReplicaWorld(t, transport)

			// Normal: the second delete follows the replica's apply, within
			// milliseconds (too soon to cache a stale value in between here).
			w.settled()
			before := w.waits()
			w.set("old")
			w.update()
			for end := time.Now().Add(20 * time.Second); w.waits() <= before; time.Sleep(time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("no second delete observed with the replica applying; logs: %v", w.logs.All())
				}
			}
			if w.atBound() != 0 {
				t.Fatalf("%v second deletes sent at the bound with the replica applying", w.atBound())
			}

			// Stopped: nothing before the bound, then the delete, warned and counted.
			w.settled()
			w.replica.StopApplying(t)
			w.firstDeleteThenStale()
			if w.gone(w.maxWait / 4) {
				t.Fatal("second delete sent while the replica had not applied the transaction")
			}
			if !w.gone(30 * time.Second) {
				t.Fatal("second delete never sent with the replica stopped: it must go at replica_max_wait")
			}
			if w.atBound() < 1 {
				t.Fatal("second delete at the bound not counted")
			}
			warned := w.logs.FilterMessageSnippet("replica_max_wait before the replica applied").FilterField(zap.String("replica", w.replName))
			if warned.Len() == 0 {
				t.Fatalf("no warning naming the replica; logs: %v", w.logs.All())
			}

			// Restarted: the second delete goes when the replica applies.
			w.settled()
			w.firstDeleteThenStale()
			if w.gone(w.maxWait / 8) {
				t.Fatal("second delete sent while the replica had not applied the transaction")
			}
			bound := w.atBound()
			w.replica.StartApplying(t)
			if !w.gone(30 * time.Second) {
				t.Fatal("second delete did not come after the replica applied")
			}
			if w.atBound() != bound {
				t.Fatal("second delete went at the bound, not when the replica applied the transaction")
			}
			if ok, text := w.h.Status(); !ok || strings.Contains(text, "degraded") {
				t.Fatalf("readiness with the replica up: %v %q", ok, text)
			}
		})
	}
}
