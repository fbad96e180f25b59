package main

import (
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Several DDLs of one table while cachesync is stopped: rows written between
// two of them are read after both. With binlog_row_metadata=FULL they are
// read by the column names in the binlog; without it no key is rendered
// from them and the table is backfilled (source.on_schema_doubt: backfill)
// or the run stops (fail). Either way no key is rendered from wrong columns.

// stoppedSchema has a signed column (pre, always -7) that the DDLs move to
// where today's layout has an unsigned one: canal converts integers to
// unsigned by column position, so a row read by name must have that undone.
const stoppedSchema = "CREATE TABLE DB.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), " +
	"visits INT NOT NULL DEFAULT 0, pre INT NOT NULL DEFAULT -7)"

const stoppedRules = `  - table: DB.users
    keys: ["user:{id}", "user:email:{email}", "user:pre:{pre}"]
`

// ddlWhileStopped runs: start, a row, stop; write; ALTER drop + reorder +
// add; write; ALTER again; write. It returns the keys the writes must
// invalidate and the decoys a decoder using the live schema would render.
func ddlWhileStopped(e *env) (want, decoys []string) {
	e.t.Helper()
	p := e.start()
	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")
	if code := p.stop(e.t); code != 0 {
		e.t.Fatalf("exit %d", code)
	}
	want = []string{"user:1", "user:email:a@x.io", "user:email:a1@x.io", "user:email:a2@x.io", "user:email:a3@x.io",
		"user:2", "user:email:b@x.io", "user:18446744073709551615", "user:email:ç😀@x.io", "user:pre:-7"}
	// What today's layout (name, id, pre, email, tag) renders from rows of
	// the one in between (name, pre, id, email): id from pre (and pre made
	// unsigned by canal), pre from id; and the largest BIGINT UNSIGNED id.
	decoys = []string{"user:-7", "user:4294967289", "user:pre:1", "user:pre:18446744073709551615", "user:pre:4294967289",
		"user:Ann", "user:Cy", "user:email:Ann", "user:email:Cy", "user:email:-7", "user:5", "user:", "user:-1"}
	e.setKeys(want...)
	e.setKeys(decoys...)
	e.exec("UPDATE DB.users SET email = 'a1@x.io' WHERE id = 1")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (2, 'b@x.io', 'Bob')")
	e.exec("ALTER TABLE DB.users DROP COLUMN visits, MODIFY name VARCHAR(100) FIRST, MODIFY pre INT NOT NULL DEFAULT -7 AFTER name")
	e.exec("UPDATE DB.users SET email = 'a2@x.io' WHERE id = 1")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (18446744073709551615, 'ç😀@x.io', 'Cy')")
	e.exec("ALTER TABLE DB.users MODIFY id BIGINT UNSIGNED AFTER name, ADD COLUMN tag INT NOT NULL DEFAULT 5")
	e.exec("UPDATE DB.users SET email = 'a3@x.io' WHERE id = 1")
	e.exec("DELETE FROM DB.users WHERE id = 2")
	return want, decoys
}

// checkDDLWhileStopped starts cachesync again and fails if a key of want
// survived or a decoy was deleted.
func checkDDLWhileStopped(e *env, want, decoys []string) *proc {
	e.t.Helper()
	p := e.start()
	e.ping(1)
	e.waitGone(20*time.Second, want...)
	if left := e.exists(decoys...); len(left) != len(decoys) {
		e.t.Errorf("keys rendered from the wrong columns were deleted: %q", missing(e, decoys))
	}
	return p
}

func TestRunDDLWhileStoppedFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{stoppedSchema, pingsSchema}, stoppedRules+pingsRules, "")
	e.enableMetrics()
	want, decoys := ddlWhileStopped(e)
	p := checkDDLWhileStopped(e, want, decoys)
	e.waitLog(p, "reading them by the column names the binlog carries")
	if n := e.metric(p, `cachesync_schema_doubt_events_total{action="backfill",table="`+e.name+`.users"}`); n != 0 {
		t.Errorf("with FULL metadata the table was backfilled (%v events in doubt)", n)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// minimalMetadata is a private server whose binlog carries no column names.
func minimalMetadata(t *testing.T) *testenv.MariaDB {
	return testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"binlog_row_metadata=MINIMAL"}})
}

func TestRunDDLWhileStoppedBackfill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, minimalMetadata(t), []string{stoppedSchema, pingsSchema}, stoppedRules+pingsRules, "")
	e.enableMetrics()
	want, decoys := ddlWhileStopped(e)
	p := checkDDLWhileStopped(e, want, decoys)
	e.waitLog(p, "table invalidated by backfill (source.on_schema_doubt: backfill)")
	e.waitMetric(p, 10*time.Second, `cachesync_schema_doubt_events_total{action="backfill",table="`+e.name+`.users"}`, 1)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestRunDDLWhileStoppedFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, minimalMetadata(t), []string{stoppedSchema, pingsSchema}, stoppedRules+pingsRules, "")
	e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, on_schema_doubt: fail}")
	_, decoys := ddlWhileStopped(e)
	p := e.start()
	if !e.waitExit(p, exitLimit) {
		t.Fatalf("cachesync kept running after rows no known schema fits:\n%s", p.out.String())
	}
	wantFailure(t, p.result(), []string{e.name + ".users", "binlog_row_metadata=FULL", "on_schema_doubt"})
	if left := e.exists(decoys...); len(left) != len(decoys) {
		t.Errorf("keys rendered from the wrong columns were deleted: %q", missing(e, decoys))
	}
}
