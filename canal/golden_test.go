package canal

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

var update = flag.Bool("update", false, "rewrite golden files")

// collector is a Sink that records batches and acknowledges them at once.
type collector struct {
	mu      sync.Mutex
	batches []*event.Batch
	tracker *checkpoint.Tracker
}

func (c *collector) Send(_ context.Context, b *event.Batch) error {
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.mu.Unlock()
	c.tracker.Done(b.Seq)
	return nil
}

func (c *collector) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, b := range c.batches {
		out = append(out, b.Keys...)
	}
	return out
}

// tailRange runs a tailer from start until the tracker's safe position
// reaches end, and returns what it emitted.
func tailRange(t *testing.T, db *testenv.MariaDB, rules []*config.Rule, start, end event.Position) (*collector, *metrics.Metrics) {
	t.Helper()
	return tailRangeWith(t, db, rules, start, end, func(*Tailer) {})
}

// tailRangeWith is tailRange with the tailer adjusted by set before it runs.
func tailRangeWith(t *testing.T, db *testenv.MariaDB, rules []*config.Rule, start, end event.Position, set func(*Tailer)) (*collector, *metrics.Metrics) {
	t.Helper()
	tracker := checkpoint.NewTracker(event.Position{})
	col := &collector{tracker: tracker}
	m := metrics.New(nil)
	src := config.Default().Source
	src.Addr, src.User, src.Flavor, src.ServerID = db.Addr, "root", "mariadb", db.ReplicaServerID()
	tl := New(src, rules, col, tracker, zaptest.NewLogger(t), m, retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond})
	set(tl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx, start) }()
	for {
		if p, ok := tracker.Safe(); ok && p.Compare(end) >= 0 {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("tailer stopped before %v: %v", end, err)
		case <-ctx.Done():
			p, _ := tracker.Safe()
			t.Fatalf("tailer did not reach %v (at %v)", end, p)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("tailer: %v", err)
	}
	return col, m
}

func loadRules(t *testing.T, path, db string) []*config.Rule {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.RulesFromText(t, string(raw), db)
}

func TestGolden(t *testing.T) {
	db := sharedMariaDB(t)
	dirs, _ := filepath.Glob("../testdata/golden/*/changes.sql")
	if len(dirs) == 0 {
		t.Fatal("no golden scenarios found")
	}
	for _, changes := range dirs {
		dir := filepath.Dir(changes)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			name := db.NewDatabase(t)
			for _, f := range []string{"schema.sql", "changes.sql"} {
				if f == "changes.sql" {
					// recorded between schema and changes: only the changes are tailed
					file, pos := db.MasterStatus(t)
					t.Cleanup(func() {})
					startPos := event.Position{File: file, Pos: pos}
					runSQLFile(t, db, name, filepath.Join(dir, f))
					endFile, endPos := db.MasterStatus(t)
					col, _ := tailRange(t, db, loadRules(t, filepath.Join(dir, "rules.yaml"), name), startPos, event.Position{File: endFile, Pos: endPos})
					compareGolden(t, filepath.Join(dir, "keys.golden"), renderGolden(col))
					continue
				}
				runSQLFile(t, db, name, filepath.Join(dir, f))
			}
		})
	}
}

func runSQLFile(t *testing.T, db *testenv.MariaDB, database, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conn := db.Conn(t)
	if _, err := conn.Execute("USE `" + database + "`"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(raw), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := conn.Execute(stmt); err != nil {
			t.Fatalf("%s: %q: %v", path, stmt, err)
		}
	}
}

// renderGolden writes one quoted key per line and "-- commit" between
// batches of different transactions is not knowable here, so batches are
// separated by "-- batch <table> <op> rows=N".
func renderGolden(c *collector) string {
	var b strings.Builder
	for _, bt := range c.batches {
		fmt.Fprintf(&b, "-- batch %s %s rows=%d\n", bt.Table, bt.Op, bt.Rows)
		for _, k := range bt.Keys {
			b.WriteString(strconv.Quote(k))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("keys differ from %s (run with -update and review the diff)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
