package observe

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// startRig runs an observer on a real Redis and MariaDB, with windows short
// enough for a unit test, and a table items (id, version, name).
func startRig(t *testing.T) (*Observer, *testenv.MariaDB, string, *observer.ObservedLogs, func(key, val string)) {
	t.Helper()
	m := testenv.SharedMariaDB(t)
	rdb := testenv.StartRedis(t).Client(t)
	name := m.NewDatabase(t)
	m.Exec(t, "CREATE TABLE `"+name+"`.items (id VARCHAR(20) CHARACTER SET utf8mb4 PRIMARY KEY, version BIGINT NOT NULL, name TEXT)")
	core, logs := observer.New(zap.InfoLevel)
	confirm := &MySQL{Src: config.SourceConfig{Addr: m.Addr, User: "root", Flavor: "mariadb", Charset: "utf8mb4",
		ConnectTimeout: config.Duration(5 * time.Second)}}
	t.Cleanup(confirm.Close)
	o, err := New(Config{Sample: 1, Windows: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond}, Queue: 100, Rate: 10000},
		Deps{Redis: rdb, Confirm: confirm, Log: zap.New(core), Metrics: metrics.NewObserver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	set := func(key, val string) {
		if err := rdb.Set(context.Background(), key, val, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return o, m, name, logs, set
}

// drain waits (bounded) until every offered change passed its last window.
func drain(t *testing.T, o *Observer) {
	t.Helper()
	for i := 0; i < 200 && o.inflight.Load() > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := o.inflight.Load(); n > 0 {
		t.Fatalf("%d changes still waiting after 2s", n)
	}
}

func change(db, id string, version int64, key string) Change {
	return Change{Rule: "items", Keys: []string{key}, Row: "items:" + id, Version: version, Commit: time.Now(),
		Ref: RowRef{DB: db, Table: "items", Column: "version", PK: []string{"id"}, Values: []any{id}}}
}

// TestStaleConfirmed plants an old value for a row the database still holds
// at the committed version: suspect at the first window, inconsistent at
// the last, logged once with both versions.
func TestStaleConfirmed(t *testing.T) {
	o, m, db, logs, set := startRig(t)
	x, _ := NewExtractor(config.RuleObserve{Column: "version", Field: "$.version"})
	m.Exec(t, "INSERT INTO `"+db+"`.items VALUES ('🚀ü', 2, 'Zoë')")
	set("item:🚀ü", `{"version":1,"name":"Zoë"}`)
	o.Offer(change(db, "🚀ü", 2, "item:🚀ü"), &x)
	drain(t, o)
	if s, i := o.Count("items", "50ms", Suspect), o.Count("items", "200ms", Inconsistent); s != 1 || i != 1 {
		t.Errorf("suspect %d at 50ms, inconsistent %d at 200ms; want 1 and 1", s, i)
	}
	entries := logs.FilterMessage("cache inconsistent with the database").All()
	if len(entries) != 1 {
		t.Fatalf("%d inconsistency logs, want 1", len(entries))
	}
	f := entries[0].ContextMap()
	if f["key"] != "item:🚀ü" || f["committed_version"] != "2" || f["cached_version"] != "1" || !strings.Contains(f["deletes"].(string), "not known") {
		t.Errorf("log fields %v", f)
	}
	var b bytes.Buffer
	o.Report(&b)
	if !strings.Contains(b.String(), "1 confirmed") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestChangedAgainNotCounted: the cache holds an older version, but the row
// has moved past the change being checked: superseded, not inconsistent.
// Fresh and absent values are consistent at every window.
func TestChangedAgainNotCounted(t *testing.T) {
	o, m, db, logs, set := startRig(t)
	x, _ := NewExtractor(config.RuleObserve{Column: "version", Field: "$.version"})
	m.Exec(t, "INSERT INTO `"+db+"`.items VALUES ('a', 3, 'x'), ('b', 5, 'y')")
	set("item:a", `{"version":1}`)
	set("item:b", `{"version":5}`)
	o.Offer(change(db, "a", 2, "item:a"), &x) // the row is at 3 now
	o.Offer(change(db, "b", 5, "item:b"), &x)
	set("item:c", cacheaside.Prefix+"L0123456789abcdef") // a reader's lease: no value yet
	o.Offer(change(db, "c", 1, "item:c"), &x)
	drain(t, o)
	if n := o.Count("items", "200ms", Superseded); n != 1 {
		t.Errorf("superseded %d, want 1", n)
	}
	if n := o.Count("items", "200ms", Inconsistent); n != 0 {
		t.Errorf("inconsistent %d, want 0", n)
	}
	if n := o.Count("items", "200ms", Consistent) + o.Count("items", "50ms", Consistent); n != 4 {
		t.Errorf("consistent %d, want 4 (b and c at both windows); unreadable %d", n, o.Count("items", "50ms", Unreadable))
	}
	if len(logs.FilterMessage("cache inconsistent with the database").All()) != 0 {
		t.Error("a superseded change was logged as an inconsistency")
	}
}

// TestDeleteExpectsAbsent: after a DELETE any value is stale, unless the
// row was inserted again.
func TestDeleteExpectsAbsent(t *testing.T) {
	o, m, db, _, set := startRig(t)
	x, _ := NewExtractor(config.RuleObserve{Column: "version", Field: "$.version"})
	m.Exec(t, "INSERT INTO `"+db+"`.items VALUES ('back', 1, 'x')")
	set("item:gone", `{"version":9}`)
	set("item:back", `{"version":1}`)
	gone, back := change(db, "gone", 0, "item:gone"), change(db, "back", 0, "item:back")
	gone.Delete, back.Delete = true, true
	o.Offer(gone, &x)
	o.Offer(back, &x)
	drain(t, o)
	if i, s := o.Count("items", "200ms", Inconsistent), o.Count("items", "200ms", Superseded); i != 1 || s != 1 {
		t.Errorf("inconsistent %d superseded %d, want 1 and 1", i, s)
	}
}

// TestQueueFullDrops: past observe.queue, changes are dropped and counted,
// and Offer never blocks.
func TestQueueFullDrops(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	mo := metrics.NewObserver(nil)
	o, err := New(Config{Sample: 1, Windows: []time.Duration{time.Hour}, Queue: 2, Rate: 1},
		Deps{Redis: rdb, Confirm: &MySQL{}, Log: zap.NewNop(), Metrics: mo})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := NewExtractor(config.RuleObserve{Column: "v", Field: "v"})
	took := 0
	for i := 0; i < 5; i++ { // Run is not started: nothing leaves the queue
		if o.Offer(change("d", "1", 1, "k"), &x) {
			took++
		}
	}
	if took != 2 || o.counts.dropped != 3 {
		t.Errorf("took %d dropped %d, want 2 and 3", took, o.counts.dropped)
	}
}

// TestHashRule reads versions from a Redis hash field: an older field is
// confirmed stale, a hash without the field is unreadable (not stale), an
// absent key is consistent.
func TestHashRule(t *testing.T) {
	o, m, db, _, _ := startRig(t)
	x, _ := NewExtractor(config.RuleObserve{Column: "version", HashField: "verśion"})
	m.Exec(t, "INSERT INTO `"+db+"`.items VALUES ('h1', 2, 'x'), ('h2', 2, 'y'), ('h3', 2, 'z')")
	rdb := o.deps.Redis
	ctx := context.Background()
	if err := rdb.HSet(ctx, "cart:h1", "verśion", "1", "name", "Zoë 🚀").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "cart:h2", "name", "no version").Err(); err != nil {
		t.Fatal(err)
	}
	o.Offer(change(db, "h1", 2, "cart:h1"), &x)
	o.Offer(change(db, "h2", 2, "cart:h2"), &x)
	o.Offer(change(db, "h3", 2, "cart:h3"), &x)
	drain(t, o)
	if i, u, c := o.Count("items", "200ms", Inconsistent), o.Count("items", "200ms", Unreadable), o.Count("items", "200ms", Consistent); i != 1 || u != 1 || c != 1 {
		t.Errorf("at 200ms: inconsistent %d unreadable %d consistent %d, want 1 each", i, u, c)
	}
}
