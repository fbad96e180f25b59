package flusher

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// emails returns id → email of every row.
func (e *wbEnv) emails() map[int]string {
	e.t.Helper()
	r := e.db.Exec(e.t, "SELECT id, email FROM `"+e.name+"`.items")
	out := map[int]string{}
	for i := range r.RowNumber() {
		id, _ := r.GetInt(i, 0)
		s, _ := r.GetString(i, 1)
		out[int(id)] = s
	}
	return out
}

// flushOnce runs a flusher until the stream is drained, then stops it.
func (e *wbEnv) flushOnce() {
	e.t.Helper()
	fl := run(e.t, e.flusher("f1", nil))
	e.waitDrained(30 * time.Second)
	if err := fl.stop(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *wbEnv) deadReasons() []string {
	e.t.Helper()
	dead, err := e.rdb.XRange(context.Background(), "wb:items:dead", "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range dead {
		r, _ := d.Values["reason"].(string)
		out = append(out, r)
	}
	return out
}

func (e *wbEnv) checkEmails(phase string, want map[int]string) {
	e.t.Helper()
	got := e.emails()
	if len(got) != len(want) {
		e.t.Fatalf("%s: rows %v, want %v", phase, got, want)
	}
	for id, w := range want {
		if got[id] != w {
			e.t.Fatalf("%s: rows %v, want %v (row %d)", phase, got, want, id)
		}
	}
}

// TestWriteBehindUniqueKey: with UNIQUE(email), a write-behind write
// changes its own row or is dead-lettered — it never updates the row that
// holds the value (INSERT … ON DUPLICATE KEY UPDATE fires on any unique
// index). Two rows swapping values in one batch cannot be applied in any
// order: both are dead-lettered, the rows stay as they were. A chain
// (7 takes 5's value, 5 takes a free one) applies in a second pass.
func TestWriteBehindUniqueKey(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	e.exec("ALTER TABLE DB.items ADD COLUMN email VARCHAR(64) NULL, ADD UNIQUE KEY uq_email (email)")
	e.exec("INSERT INTO DB.items (id, email) VALUES (5, 'a'), (7, 'b')")
	ctx := context.Background()
	set := func(id int, email string) {
		t.Helper()
		if _, err := e.client.Set(ctx, key(id), email, 0, e.row(id), map[string]any{"email": email}); err != nil {
			t.Fatal(err)
		}
	}
	// A new row whose email row 7 holds: the upsert must not update row 7.
	if _, err := e.client.Set(ctx, key(11), "x", 0, e.row(11), map[string]any{"email": "b", "name": "intruder"}); err != nil {
		t.Fatal(err)
	}
	e.flushOnce()
	e.checkEmails("new row with a taken value", map[int]string{5: "a", 7: "b"})
	if r := e.db.Exec(t, "SELECT COUNT(*) FROM `"+e.name+"`.items WHERE name = 'intruder'"); r.Values[0][0].AsInt64() != 0 {
		t.Fatal("the new row's write changed another row (the one holding its email)")
	}
	if r := e.deadReasons(); len(r) != 1 || !strings.Contains(r[0], "uq_email") {
		t.Fatalf("dead letters %q, want one naming index uq_email", r)
	}

	set(5, "b") // row 7 holds b
	e.flushOnce()
	e.checkEmails("5 takes 7's value", map[int]string{5: "a", 7: "b"})
	if r := e.deadReasons(); len(r) != 2 {
		t.Fatalf("dead letters %q, want 2", r)
	}

	set(5, "b") // a swap inside one batch
	set(7, "a")
	e.flushOnce()
	e.checkEmails("swap", map[int]string{5: "a", 7: "b"})
	if r := e.deadReasons(); len(r) != 4 {
		t.Fatalf("dead letters %q, want both entries of the swap dead-lettered", r)
	}

	set(7, "a") // row 5 holds a until its own write below
	set(5, "c")
	set(9, "z") // a new row
	e.flushOnce()
	e.checkEmails("chain", map[int]string{5: "c", 7: "a", 9: "z"})
	if r := e.deadReasons(); len(r) != 4 {
		t.Fatalf("dead letters %q, want no new one", r)
	}
	if got := e.mysqlQty(); len(got) != 3 {
		t.Fatalf("rows %v", got)
	}
}
