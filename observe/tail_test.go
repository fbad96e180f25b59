package observe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// TestStandaloneFromBinlog runs the observer on its own binlog reader with
// no invalidator at all: a row updated while its key keeps the old value is
// found stale and confirmed; a key set to the new version is consistent.
// The versions come from the binlog's after image, the rows are re-read by
// a non-ASCII primary key.
func TestStandaloneFromBinlog(t *testing.T) {
	m := testenv.SharedMariaDB(t)
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	db := m.NewDatabase(t)
	m.Exec(t, "CREATE TABLE `"+db+"`.items (id VARCHAR(20) CHARACTER SET utf8mb4 PRIMARY KEY, version BIGINT NOT NULL, name TEXT)")
	m.Exec(t, "INSERT INTO `"+db+"`.items VALUES ('warm', 1, ''), ('stale🚀', 1, 'Zoë'), ('fresh', 1, '')")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`source: {addr: %q, user: root, flavor: mariadb}
observe: {sample: 1, windows: [100ms, 300ms]}
rules:
  - table: %s.items
    name: items
    keys: ["item:{id}"]
    observe: {column: version, field: "$.version"}
`, m.Addr, db)), "test.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Source
	src.ServerID = m.ReplicaServerID()
	core, logs := observer.New(zap.InfoLevel)
	s, err := NewStandalone(cfg, src, rdb, zap.New(core), metrics.NewObserver(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// The reader starts at the primary's position when it connects: write
	// until it has seen a change.
	for i := 2; s.Count("items", "100ms", Consistent) == 0; i++ {
		if i > 60 {
			t.Fatal("the observer saw no change in 6s")
		}
		m.Exec(t, fmt.Sprintf("UPDATE `%s`.items SET version = %d WHERE id = 'warm'", db, i))
		time.Sleep(100 * time.Millisecond)
	}
	rdb.Set(ctx, "item:stale🚀", `{"version":1,"name":"Zoë"}`, time.Minute)
	rdb.Set(ctx, "item:fresh", `{"version":2}`, time.Minute)
	m.Exec(t, "UPDATE `"+db+"`.items SET version = 2 WHERE id IN ('stale🚀', 'fresh')")
	for i := 0; s.Count("items", "300ms", Inconsistent) == 0; i++ {
		if i > 50 {
			t.Fatal("no inconsistency confirmed in 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	drain(t, s.Observer)
	if n := s.Count("items", "300ms", Inconsistent); n != 1 {
		t.Errorf("inconsistent %d, want 1", n)
	}
	all := logs.FilterMessage("cache inconsistent with the database").All()
	if len(all) != 1 {
		t.Fatalf("%d inconsistency logs, want 1", len(all))
	}
	if f := all[0].ContextMap(); f["key"] != "item:stale🚀" || f["row"] != db+`.items:"stale🚀"` || f["committed_version"] != "2" || f["cached_version"] != "1" {
		t.Errorf("log fields %v", f)
	}
}
