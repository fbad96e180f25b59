package main

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/writebehind"
)

const wbSchema = "CREATE TABLE DB.items (id BIGINT PRIMARY KEY, name VARCHAR(32) NULL, qty BIGINT NOT NULL DEFAULT 0)"

const wbRules = `  - table: DB.items
    keys: ["item:{id}", "items:name:{name}"]
    write_behind: {stream: "wb:items", keys: ["item:{id}"], interval: 50ms}
`

func (e *env) wbRow(id int) writebehind.Row {
	return writebehind.Row{Table: e.name + ".items", PK: map[string]any{"id": id}}
}

// waitQty waits (bounded) until row id has qty want in MySQL.
func (e *env) waitQty(limit time.Duration, id int, want int64) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := e.db.Exec(e.t, e.qualify("SELECT qty FROM DB.items WHERE id = ?"), id)
		if r.RowNumber() == 1 {
			if q, _ := r.GetInt(0, 0); q == want {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("row %d did not reach qty %d in MySQL within %v", id, want, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWriteBehindEcho runs the whole binary (role all: tailer, deleter and
// flusher). The flush's own binlog transaction must not invalidate the key
// the cache owns, must invalidate the rule's other key, and a plain SQL
// UPDATE of the same row must invalidate the owned key as usual.
func TestWriteBehindEcho(t *testing.T) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema}, wbRules, "")
	e.exec("INSERT INTO DB.items (id, name, qty) VALUES (1, 'widget', 1)")
	p := e.start()
	e.waitLog(p, "flusher active")
	ctx := context.Background()
	e.setKeys("items:name:widget")
	c := writebehind.New(e.rdb, "wb:items")
	if _, err := c.Set(ctx, "item:1", "5", 0, e.wbRow(1), map[string]any{"qty": 5}); err != nil {
		t.Fatal(err)
	}
	e.waitQty(30*time.Second, 1, 5)
	// The checkpoint passes the flush transaction only once its keys are
	// deleted, second delete included.
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
	if v, err := e.rdb.Get(ctx, "item:1").Result(); err != nil || v != "5" {
		t.Fatalf("owned key item:1 = %q (%v) after its own flush; want it kept at 5", v, err)
	}
	if left := e.exists("items:name:widget"); len(left) > 0 {
		t.Fatalf("non-owned key %v survived the flush; want it invalidated", left)
	}
	e.exec("UPDATE DB.items SET qty = 9 WHERE id = 1")
	e.waitGone(30*time.Second, "item:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// startRole runs `cachesync run --role role` and waits until it logs want.
func (e *env) startRole(role string, want ...string) *proc {
	e.t.Helper()
	p := e.spawn(exec.Command(binPath, "run", "--config", e.cfg, "--role", role))
	e.waitLog(p, want...)
	return p
}

// TestWriteBehindFlusherKill9 SIGKILLs `--role flusher` while it flushes
// 5,000 queued increments, restarts it, and checks that every counter ends
// at its exact total.
func TestWriteBehindFlusherKill9(t *testing.T) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema,
		"CREATE TABLE DB.audit (seq BIGINT AUTO_INCREMENT PRIMARY KEY, item BIGINT NOT NULL, qty BIGINT NOT NULL)",
		"CREATE TRIGGER DB.items_au AFTER UPDATE ON DB.items FOR EACH ROW INSERT INTO DB.audit (item, qty) VALUES (NEW.id, NEW.qty)",
	}, wbRules, "")
	ctx := context.Background()
	c := writebehind.New(e.rdb, "wb:items")
	const rows = 10
	for id := range rows {
		if _, err := c.Set(ctx, "item:"+strconv.Itoa(id), "0", 0, e.wbRow(id), map[string]any{"qty": 0}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int]int64{}
	incr := func(n int) {
		for i := range n {
			id := i % rows
			r, err := c.IncrBy(ctx, "item:"+strconv.Itoa(id), 1, 0, e.wbRow(id), "qty")
			if err != nil || !r.Applied {
				t.Fatalf("incr: %v %+v", err, r)
			}
			want[id] = r.Value
		}
	}
	incr(2500)
	p := e.startRole("flusher", "flusher active")
	incr(2500)
	p.kill9(t)
	incr(500)
	e.startRole("flusher", "flusher active")
	for id, q := range want {
		e.waitQty(60*time.Second, id, q)
	}
	e.waitGoneStream(60*time.Second, "wb:items")
	// With increments only, MySQL must never have been given a counter value
	// at or below the one before: that would be a write applied twice.
	r := e.db.Exec(t, e.qualify("SELECT item, qty FROM DB.audit ORDER BY seq"))
	last := map[int64]int64{}
	for i := range r.RowNumber() {
		item, _ := r.GetInt(i, 0)
		q, _ := r.GetInt(i, 1)
		if prev, ok := last[item]; ok && q <= prev {
			t.Fatalf("item %d was given qty %d after %d: a write was applied twice", item, q, prev)
		}
		last[item] = q
	}
}

// waitGoneStream waits (bounded) until the stream holds no entries.
func (e *env) waitGoneStream(limit time.Duration, stream string) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n, err := e.rdb.XLen(context.Background(), stream).Result()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("stream %s still holds %d entries after %v", stream, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWriteBehindRoleFlags: a bad --role, and --role flusher with nothing to
// flush, are usage errors (exit 2) that say what is wrong.
func TestWriteBehindRoleFlags(t *testing.T) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{wbSchema}, "  - {table: DB.items, keys: [\"item:{id}\"]}\n", "")
	r := runCLI(t, 30*time.Second, nil, "run", "--config", e.cfg, "--role", "bogus")
	if r.code != 2 {
		t.Errorf("--role bogus: want exit 2:\n%v", r)
	}
	wantFailure(t, r, []string{`--role "bogus"`, "all, tailer, consumer or flusher"})
	r = runCLI(t, 30*time.Second, nil, "run", "--config", e.cfg, "--role", "flusher")
	if r.code != 2 {
		t.Errorf("--role flusher without write_behind: want exit 2:\n%v", r)
	}
	wantFailure(t, r, []string{"no rule has write_behind"})
	r = runCLI(t, 30*time.Second, nil, "run", "--config", e.cfg, "--role", "consumer")
	if r.code != 2 {
		t.Errorf("--role consumer with the direct transport: want exit 2:\n%v", r)
	}
	wantFailure(t, r, []string{"--role consumer", "transport.kind is direct", "transport.kind: kafka"})
}

// MySQL down under a running flusher: /readyz fails with the stream's part
// once flushing has failed for http.stall_after, nothing is lost, and it is
// ready again once the writes land after MySQL returns.
func TestWriteBehindReadyzWhileMySQLDown(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{}) // killed below
	e := newEnv(t, db, []string{wbSchema}, wbRules, "")
	e.enableMetrics()
	e.editConfig(`http: {addr: "127.0.0.1:`, `http: {stall_after: 2s, addr: "127.0.0.1:`)
	ctx := context.Background()
	c := writebehind.New(e.rdb, "wb:items")
	p := e.startRole("flusher", "flusher active")
	e.waitReadyz(p, 10*time.Second, 200, "ready")

	db.Kill(t)
	for id := range 5 {
		if _, err := c.Set(ctx, "item:"+strconv.Itoa(id), "0", 0, e.wbRow(id), map[string]any{"qty": id + 10}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitReadyz(p, 30*time.Second, 503, "write-behind wb:items: failing for")
	db.Start(t)
	for id := range 5 {
		e.waitQty(60*time.Second, id, int64(id+10))
	}
	e.waitReadyz(p, 30*time.Second, 200, "ready")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
