package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

const eventsSchema = "CREATE TABLE DB.events (id INT PRIMARY KEY, at TIMESTAMP(3) NULL, name VARCHAR(20))"

const eventsRules = `  - table: DB.events
    keys: ["event:{at}"]
`

// selectedKey is the key the application builds from what SELECT shows
// for the row, in the server's default time zone.
func (e *env) selectedKey(id int) string {
	e.t.Helper()
	r := e.db.Exec(e.t, e.qualify("SELECT CAST(at AS CHAR) FROM DB.events WHERE id = ?"), id)
	at, err := r.GetString(0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return "event:" + at
}

// With default_time_zone=+02:00, SELECT shows a TIMESTAMP two hours ahead
// of UTC; run and backfill render the same text, so they delete the key
// the application built.
func TestTimestampKeysInServerTimeZone(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"default_time_zone=+02:00"}})
	e := newEnv(t, db, []string{eventsSchema}, eventsRules, "")
	e.exec("INSERT INTO DB.events (id, at) VALUES (1, '2026-11-26 12:34:56.789')")
	key := e.selectedKey(1)
	if key != "event:2026-11-26 12:34:56.789" {
		t.Fatalf("SELECT shows %q: the server is not at +02:00", key)
	}
	p := e.start()
	e.setKeys(key)
	e.exec("UPDATE DB.events SET name = 'x' WHERE id = 1")
	e.waitGone(10*time.Second, key)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}

	e.setKeys(key)
	_, stderr, code := e.backfill("--table", e.name+".events", "--state", e.statePath())
	if code != 0 {
		t.Fatalf("backfill exit %d:\n%s", code, stderr)
	}
	e.waitGone(10*time.Second, key)

	r := runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "+02:00") {
		t.Errorf("config check --online should pass and name the zone +02:00 keys render TIMESTAMP in:\n%v", r)
	}
}

// source.time_zone overrides the server's zone: an application whose
// sessions SET time_zone='+05:00' sees, and builds keys from, that.
func TestTimestampKeysInConfiguredTimeZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{eventsSchema}, eventsRules, "")
	e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, time_zone: \"+05:00\"}")
	e.exec("INSERT INTO DB.events (id, at) VALUES (1, FROM_UNIXTIME(1795000000.5))")
	want := "event:" + time.Unix(1795000000, 500000000).In(time.FixedZone("", 5*3600)).Format("2006-01-02 15:04:05.000")
	p := e.start()
	e.setKeys(want)
	e.exec("UPDATE DB.events SET name = 'x' WHERE id = 1")
	e.waitGone(10*time.Second, want)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	e.setKeys(want)
	if _, stderr, code := e.backfill("--table", e.name+".events", "--state", e.statePath()); code != 0 {
		t.Fatalf("backfill exit %d:\n%s", code, stderr)
	}
	e.waitGone(10*time.Second, want)
}
