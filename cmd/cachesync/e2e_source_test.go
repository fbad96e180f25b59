package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of the source going away under a running cachesync, of
// GTID resume, and of a crash inside one large transaction.

// MariaDB crashes (SIGKILL) and is restarted while cachesync streams: it
// reconnects from the last transaction boundary on its own, nothing written
// before or after the crash stays cached, the process never exits, and
// /readyz fails while the server is down and recovers after.
func TestRunSourceCrashAndRestart(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(100)
	p := e.start()
	ids := seq(1, 100)
	e.setKeys(userKeysOf(ids...)...)
	e.waitReadyz(p, 10*time.Second, 200, "ready")

	w := startWriter(t, db, e.renames("c", seq(1, 50)...), nil)
	w.wait(t, 60*time.Second)
	db.Kill(t) // possibly before cachesync read or deleted all of it
	e.waitReadyz(p, 30*time.Second, 503, "binlog: stream broke")
	db.Start(t)
	e.waitReadyz(p, 60*time.Second, 200, "ready")
	for _, s := range e.renames("r", seq(51, 100)...) {
		db.Exec(t, s)
	}
	e.waitGone(60*time.Second, userKeysOf(ids...)...)
	p.alive(t)
	if !p.logHas("reconnecting from the last transaction boundary") {
		t.Errorf("no reconnect logged after the crash:\n%s", p.out.String())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// MariaDB frozen (SIGSTOP), as a half-open connection looks from the
// client: with heartbeat_period 1s and the default read timeout (1.5 ×
// heartbeat) the dead stream is found, /readyz fails while the server stays
// frozen (each reconnect attempt times out too), and once it answers again
// cachesync reconnects from the checkpoint and invalidates what changed.
func TestRunSourcePaused(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(10)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'a' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)
	e.waitReadyz(p, 10*time.Second, 200, "ready")

	paused := time.Now()
	db.Pause(t)
	e.waitReadyz(p, 30*time.Second, 503, "binlog: stream broke")
	t.Logf("frozen server found after %v (heartbeat 1s, read timeout 1.5s)", time.Since(paused).Round(10*time.Millisecond))
	if !p.logHas("binlog stream broke", "i/o timeout") {
		t.Errorf("the break is not logged as a read timeout:\n%s", p.out.String())
	}
	// Reconnecting to the frozen server fails within the read timeout
	// too, so /readyz stays failed rather than hanging on a connect.
	e.waitLog(p, `"attempt":2`, `"attempt": 2`)
	if code, body := e.readyz(p); code != 503 {
		t.Errorf("/readyz answers %d %q while the server is still frozen", code, body)
	}
	db.Resume(t)
	e.waitReadyz(p, 30*time.Second, 200, "ready")
	e.setKeys(userKeysOf(2, 3)...)
	e.exec("UPDATE DB.users SET name = 'b' WHERE id IN (2, 3)")
	e.waitGone(30*time.Second, userKeysOf(2, 3)...)
	if n := e.metric(p, "cachesync_binlog_reconnects_total"); n < 2 {
		t.Errorf("cachesync_binlog_reconnects_total = %v after a frozen server, want at least 2", n)
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// With source.gtid the checkpoint holds the GTID set and a restart after
// kill -9 resumes from it: nothing written before, during or after the
// crash stays cached.
func TestRunGTIDKill9Resume(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
	e.seedUsers(100)
	p := e.start()
	ids := seq(1, 100)
	e.setKeys(userKeysOf(ids...)...)
	w := startWriter(t, db, e.renames("g", ids...), func(int) { time.Sleep(10 * time.Millisecond) })
	w.waitExecuted(t, 60*time.Second, 30)
	p.kill9(t)
	raw, err := readFile(e.checkpointPath())
	if err != nil || !strings.Contains(raw, `"gtid":"0-1-`) {
		t.Fatalf("checkpoint with gtid: true holds no MariaDB GTID (%v): %s", err, raw)
	}
	// Every change after the checkpoint is replayed: re-cache all keys of
	// rows written so far whose statement began after it.
	cp, _ := e.readCheckpoint()
	before, _ := w.positions()
	var replay []string
	for i, b := range before {
		if b.cmp(cp) >= 0 {
			replay = append(replay, userKeys(ids[i])...)
		}
	}
	e.setKeys(replay...)
	p2 := e.start()
	if !p2.logHas("resuming from checkpoint", "gtid 0-1-") {
		t.Errorf("restart did not resume from the GTID checkpoint:\n%s", p2.out.String())
	}
	w.wait(t, 60*time.Second)
	e.waitGone(60*time.Second, userKeysOf(ids...)...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// kill -9 while cachesync is inside one 50,000-row transaction: the
// checkpoint cannot be past that transaction unless every key of it was
// deleted, and a restart deletes all of them again.
func TestRunKill9InsideLargeTransaction(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.editConfig("second_delay: 200ms", "second_delay: 1s")
	const n = 50000
	e.seedUsers(n)
	p := e.start()
	keys := keyRange("user:%d", 1, n)
	e.setKeys(keys...)
	txBegin := masterPos(t, db)
	e.exec(fmt.Sprintf("UPDATE DB.users SET name = 'big' WHERE id <= %d", n))
	txEnd := masterPos(t, db)
	e.waitGone(60*time.Second, keys[0]) // the first batch is deleted: kill now
	p.kill9(t)
	cp, _ := e.readCheckpoint()
	left := e.exists(keys[n-1])
	t.Logf("killed with checkpoint %v (transaction %v..%v), last key still cached: %v", cp, txBegin, txEnd, len(left) == 1)
	if cp.cmp(txBegin) > 0 && cp.cmp(txEnd) < 0 {
		t.Fatalf("checkpoint %v is inside the transaction %v..%v", cp, txBegin, txEnd)
	}
	if len(left) == 1 && cp.cmp(txEnd) >= 0 {
		t.Fatalf("checkpoint %v is past the transaction (ends %v) while its key %s is still cached", cp, txEnd, keys[n-1])
	}
	if cp.cmp(txEnd) < 0 {
		e.setKeys(keys...) // the whole transaction is replayed
	}
	p2 := e.start()
	e.waitGone(120*time.Second, keys...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// Failover to a replica with source.gtid: cachesync follows the primary,
// stops; the primary takes more writes, which reach a replica (GTIDs kept,
// log_slave_updates); cachesync is pointed at the replica and resumes from
// the GTID checkpoint there — every change it had not read is invalidated —
// and goes on once the replica is promoted and written to directly.
func TestRunGTIDFailoverToReplica(t *testing.T) {
	t.Parallel()
	primary := testenv.StartMariaDB(t, testenv.MariaDBOptions{ServerID: 1})
	replica := testenv.StartMariaDB(t, testenv.MariaDBOptions{ServerID: 2, ExtraConfig: []string{"log_slave_updates = ON"}})
	replica.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_USE_GTID = slave_pos", primary.Port))
	replica.Exec(t, "START SLAVE")
	t.Cleanup(func() { replica.Exec(t, "STOP SLAVE") })

	e := newEnv(t, primary, []string{usersSchema}, usersRules, "")
	e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
	e.seedUsers(20)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'before' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	cp, _ := e.readCheckpoint()
	raw, _ := readFile(e.checkpointPath())
	if !strings.Contains(raw, `"gtid":"0-1-`) {
		t.Fatalf("checkpoint holds no GTID of the primary: %s", raw)
	}

	// While cachesync is down the primary takes writes; the replica gets them.
	ids := seq(2, 11)
	e.setKeys(userKeysOf(ids...)...)
	for _, s := range e.renames("f", ids...) {
		primary.Exec(t, s)
	}
	r := primary.Exec(t, "SELECT @@GLOBAL.gtid_binlog_pos")
	gtid, _ := r.GetString(0, 0)
	if w := replica.Exec(t, "SELECT MASTER_GTID_WAIT(?, 30)", gtid); w.RowNumber() != 1 {
		t.Fatal("MASTER_GTID_WAIT returned nothing")
	} else if v, _ := w.GetInt(0, 0); v != 0 {
		t.Fatalf("the replica did not reach %s within 30s (MASTER_GTID_WAIT = %d)", gtid, v)
	}

	// Failover: the same config, pointed at the replica.
	e.editConfig("addr: "+primary.Addr+",", "addr: "+replica.Addr+",")
	p = e.start()
	if !p.logHas("resuming from checkpoint", "gtid 0-1-") {
		t.Errorf("did not resume from the GTID checkpoint (%v) on the replica:\n%s", cp, p.out.String())
	}
	e.waitGone(30*time.Second, userKeysOf(ids...)...)

	// Promote the replica and write to it directly.
	replica.Exec(t, "STOP SLAVE")
	e.setKeys(userKeys(15)...)
	replica.Exec(t, e.qualify("UPDATE DB.users SET name = 'promoted' WHERE id = 15"))
	e.waitGone(30*time.Second, userKeys(15)...)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
