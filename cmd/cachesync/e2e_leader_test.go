package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// leaderEnv is an env whose checkpoint lives in its Redis, shared by every
// instance started on it, with a 2 s leader lease.
func leaderEnv(t *testing.T) *env {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("checkpoint: {store: file, min_interval: 100ms, path: "+e.checkpointPath()+"}",
		"checkpoint: {store: redis, key: cs, lease: 2s, path: "+e.checkpointPath()+"}")
	return e
}

// redisCheckpoint reads the shared checkpoint and the fencing token of the
// leader that saved it.
func (e *env) redisCheckpoint() (binPos, int64) {
	e.t.Helper()
	raw, err := e.rdb.Get(context.Background(), "{cs}").Bytes()
	if err != nil {
		return binPos{}, 0
	}
	var r struct {
		binPos
		Token int64 `json:"token"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		e.t.Fatalf("checkpoint in redis: %v: %s", err, raw)
	}
	return r.binPos, r.Token
}

// Two instances, one config: the second stands by; kill -9 the leader in the
// middle of a stream of writes and the standby takes over within the lease
// and resumes from the shared checkpoint — no key of any write survives.
func TestStandbyTakesOverFromKilledLeader(t *testing.T) {
	t.Parallel()
	e := leaderEnv(t)
	const n = 150
	e.seedUsers(n)
	e.setKeys(userKeysOf(seq(1, n)...)...)
	a := e.startNoWait()
	e.waitLog(a, "leader lease acquired")
	e.waitLog(a, "starting at the primary's current position")
	b := e.startNoWait()
	e.waitLog(b, "standby: another instance holds the leader lease")
	w := startWriter(t, e.db, e.renames("t", seq(1, n)...), func(int) { time.Sleep(20 * time.Millisecond) })
	w.waitExecuted(t, 30*time.Second, 40)
	a.kill9(t)
	killed := time.Now()
	e.waitLog(b, "leader lease acquired")
	// A figure, not an assertion (tests do not time things): with a 2 s
	// lease the standby polls every 0.5 s and takes over when it expires.
	t.Logf("the standby took over %v after the leader died (lease 2s)", time.Since(killed).Round(10*time.Millisecond))
	e.waitLog(b, "resuming from checkpoint")
	w.wait(t, time.Minute)
	e.waitGone(30*time.Second, userKeysOf(seq(1, n)...)...)
	if _, token := e.redisCheckpoint(); token < 2 {
		t.Errorf("checkpoint saved with fencing token %d after the takeover, want the new leader's (>= 2)", token)
	}
}

// A leader paused past its lease (SIGSTOP) while a standby takes over: when
// it wakes it finds the lease gone and stops at once, and it never moves the
// shared checkpoint (every save is a compare-and-set on the lease).
func TestPausedLeaderCannotMoveCheckpoint(t *testing.T) {
	t.Parallel()
	e := leaderEnv(t)
	e.seedUsers(20)
	a := e.startNoWait()
	e.waitLog(a, "starting at the primary's current position")
	b := e.startNoWait()
	e.waitLog(b, "standby: another instance holds the leader lease")
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	e.waitLog(b, "leader lease acquired")
	e.waitLog(b, "resuming from checkpoint")
	e.setKeys(userKeysOf(seq(1, 10)...)...)
	e.exec("UPDATE DB.users SET name = 'p' WHERE id <= 10")
	e.waitGone(20*time.Second, userKeysOf(seq(1, 10)...)...)
	deadline := time.Now().Add(10 * time.Second)
	for _, token := e.redisCheckpoint(); token < 2; _, token = e.redisCheckpoint() {
		if time.Now().After(deadline) {
			t.Fatal("the new leader never saved the checkpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	e.waitLog(a, "lost the leader lease")
	for i := 0; i < 50; i++ { // a second of saves: every one is the new leader's
		if _, token := e.redisCheckpoint(); token < 2 {
			t.Fatalf("checkpoint saved with the old leader's fencing token %d", token)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The new leader still works.
	e.setKeys(userKeysOf(seq(11, 20)...)...)
	e.exec("UPDATE DB.users SET name = 'q' WHERE id > 10")
	e.waitGone(20*time.Second, userKeysOf(seq(11, 20)...)...)
	b.alive(t)
}

// The schema history lives beside the shared checkpoint in Redis: an
// instance on another host (its own directory, no local history) that takes
// over after a DDL the old leader never streamed still decodes the rows
// written before that DDL with their own columns (as TestRunDDLWhileBehind
// does for one instance).
func TestStandbyReadsTheLeadersSchemaHistory(t *testing.T) {
	t.Parallel()
	e := leaderEnv(t)
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	a := e.startNoWait()
	e.waitLog(a, "starting at the primary's current position")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:a2@x.io")
	e.exec("UPDATE DB.users SET email = 'a2@x.io' WHERE id = 1") // a records the users schema
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:a2@x.io")
	if code := a.stop(t); code != 0 {
		t.Fatalf("leader exit code %d after SIGTERM", code)
	}

	d := e.writeBehindDDL()
	// The other instance: same config but its own directory.
	cfgB, other := e.configCopy(func(cfg, dir string) string { return strings.ReplaceAll(cfg, e.dir, dir) })
	b := e.spawn(exec.Command(binPath, "run", "--config", cfgB))
	e.waitLog(b, "resuming from checkpoint")
	e.checkBehindDDL(d, " the takeover")
	if _, err := os.Stat(filepath.Join(other, "cachesync.pos.schemas")); err == nil {
		t.Error("the new leader wrote a local schema history file; with checkpoint.store redis it belongs in Redis")
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// A standby is healthy: /readyz answers ready and cachesync_leader is 0 (an
// alert on sum(cachesync_leader) != 1 finds a config with no leader, or
// two). When the leader dies the standby's gauge turns 1.
func TestStandbyIsReadyAndLeaderGauge(t *testing.T) {
	t.Parallel()
	e := leaderEnv(t)
	e.enableMetrics()
	addrB := freeAddr(t)
	cfgB, _ := e.configCopy(func(cfg, _ string) string {
		return regexp.MustCompile(`http: \{addr: "[^"]+"\}`).ReplaceAllString(cfg, `http: {addr: "`+addrB+`"}`)
	})

	leader := e.startNoWait()
	e.waitLog(leader, "starting at the primary's current position")
	e.waitReadyz(leader, 10*time.Second, 200, "ready")
	standby := e.spawn(exec.Command(binPath, "run", "--config", cfgB))
	e.waitLog(standby, "standby: another instance holds the leader lease")
	e.waitReadyz(standby, 10*time.Second, 200, "ready")
	if l, s := e.metric(leader, "cachesync_leader"), e.metric(standby, "cachesync_leader"); l != 1 || s != 0 {
		t.Fatalf("cachesync_leader: leader %v, standby %v; want 1 and 0", l, s)
	}
	leader.kill9(t)
	e.waitLog(standby, "leader lease acquired")
	e.waitMetric(standby, 30*time.Second, "cachesync_leader", 1)
	e.waitReadyz(standby, 30*time.Second, 200, "ready")
	if code := standby.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
