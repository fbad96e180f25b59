package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of crashes, stops and outages: whatever happens, no key of
// a committed change survives, and the checkpoint never passes a change
// whose keys are not yet deleted.

// userKeys are the keys a name change of row id invalidates (usersRules,
// rows seeded with email u<id>@x.io).
func userKeys(id int) []string {
	return []string{fmt.Sprintf("user:%d", id), fmt.Sprintf("user:email:u%d@x.io", id)}
}

func userKeysOf(ids ...int) []string {
	var out []string
	for _, id := range ids {
		out = append(out, userKeys(id)...)
	}
	return out
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// seedUsers inserts rows 1..n with email u<id>@x.io.
func (e *env) seedUsers(n int) {
	e.t.Helper()
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
}

// renames returns one single-row UPDATE of a watched column per id.
func (e *env) renames(tag string, ids ...int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = e.qualify(fmt.Sprintf("UPDATE DB.users SET name = '%s%d' WHERE id = %d", tag, id, id))
	}
	return out
}

// checkCovered asserts that every statement the checkpoint cp has certainly
// passed (its end is at or before cp) has had its keys deleted. ids[i] is
// the row statement i changed. It returns how many statements it checked.
func checkCovered(t *testing.T, e *env, cp binPos, after []binPos, ids []int) int {
	t.Helper()
	n := 0
	for i, a := range after {
		if a.cmp(cp) > 0 {
			continue
		}
		n++
		if left := e.exists(userKeys(ids[i])...); len(left) > 0 {
			t.Errorf("checkpoint %v is past statement %d (ends by %v), yet its keys %q are still cached", cp, i, a, left)
		}
	}
	return n
}

// kill -9 in the middle of a stream of writes, then a restart from the
// checkpoint file: every statement the checkpoint passed was fully
// invalidated before the crash, every later one is invalidated after the
// restart (its keys are re-set to prove the replay), and in the end no key of
// any written row survives.
func TestRunKill9MidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	const n = 200
	e.seedUsers(n)
	p := e.start()
	ids := seq(1, n)
	e.setKeys(userKeysOf(ids...)...)

	w := startWriter(t, e.db, e.renames("k", ids...), func(int) { time.Sleep(10 * time.Millisecond) })
	w.waitExecuted(t, 60*time.Second, 60)
	p.kill9(t)
	killedAfter := w.executed()
	if killedAfter >= n {
		t.Fatalf("the writer finished before the kill; not mid-stream")
	}
	cp, ok := e.readCheckpoint()
	if !ok {
		t.Fatalf("no checkpoint file after streaming; output:\n%s", p.out.String())
	}
	before, after := w.positions()
	covered := checkCovered(t, e, cp, after, ids)
	// Statements that certainly began after the checkpoint must be replayed:
	// re-cache their keys (their first delete may have happened already).
	var replay []string
	for i, b := range before {
		if b.cmp(cp) >= 0 {
			replay = append(replay, userKeys(ids[i])...)
		}
	}
	e.setKeys(replay...)
	t.Logf("killed after %d of %d statements; checkpoint %v covers %d; %d keys re-cached for replay", killedAfter, n, cp, covered, len(replay))

	p2 := e.start()
	if !p2.logHas("resuming from checkpoint", `"position":"`+cp.String()+`"`) {
		t.Errorf("restart did not log resuming from checkpoint %v:\n%s", cp, p2.out.String())
	}
	w.wait(t, 120*time.Second)
	e.waitGone(60*time.Second, userKeysOf(ids...)...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// SIGTERM finishes the invalidations in flight (second deletes included),
// saves the checkpoint and exits 0; a restart resumes exactly there and
// invalidates what was written while it was down.
func TestRunSIGTERMThenResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("second_delay: 200ms", "second_delay: 2s") // keep work in flight at the signal
	e.seedUsers(60)
	p := e.start()
	first := seq(1, 30)
	e.setKeys(userKeysOf(first...)...)
	w := startWriter(t, e.db, e.renames("t", first...), nil)
	w.wait(t, 60*time.Second)
	// Signal as soon as the first batch is deleted, while second deletes wait.
	e.waitGone(30*time.Second, userKeys(1)...)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}
	cp, ok := e.readCheckpoint()
	if !ok {
		t.Fatalf("no checkpoint file after a clean stop:\n%s", p.out.String())
	}
	if !p.logHas(`"batches_unfinished":0`) {
		t.Errorf("clean stop left batches unfinished:\n%s", p.out.String())
	}
	if !p.logHas(`"checkpoint":"` + cp.String() + `"`) {
		t.Errorf("the stop log does not name the saved checkpoint %v:\n%s", cp, p.out.String())
	}
	_, after := w.positions()
	if got := checkCovered(t, e, cp, after, first); got == 0 {
		t.Logf("checkpoint %v covers none of the statements (tailer had not read them at the signal)", cp)
	}

	// Written while cachesync is down.
	second := seq(31, 60)
	e.setKeys(userKeysOf(second...)...)
	for _, s := range e.renames("down", second...) {
		e.db.Exec(t, s)
	}
	p2 := e.start()
	if !p2.logHas("resuming from checkpoint", `"position":"`+cp.String()+`"`) {
		t.Errorf("restart did not resume from checkpoint %v:\n%s", cp, p2.out.String())
	}
	e.waitGone(30*time.Second, userKeysOf(append(first, second...)...)...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after the second SIGTERM", code)
	}
}

// Redis stopped for 10 s while rows change, then restarted empty. While it
// is down the process keeps running and the checkpoint stays where it was;
// after it is back, the keys readers cached meanwhile are invalidated and the
// checkpoint moves on. cachesync reads its own MariaDB so that every binlog
// position in the test is one of its writes.
func TestRunRedisOutage(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.editConfig("second_delay: 200ms", "second_delay: 2s") // covers the re-caching right after the restart
	e.seedUsers(40)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'before' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)
	p0 := e.waitCheckpoint(30*time.Second, masterPos(t, db))

	e.redis.Stop(t)
	outage := seq(2, 21)
	began := time.Now()
	for _, id := range outage {
		e.exec(fmt.Sprintf("UPDATE DB.users SET name = 'outage' WHERE id = %d", id))
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if cp, _ := e.readCheckpoint(); cp.cmp(p0) > 0 {
				t.Fatalf("checkpoint moved from %v to %v while Redis was down", p0, cp)
			}
		}
	}
	for time.Since(began) < 10*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	p.alive(t)
	if cp, _ := e.readCheckpoint(); cp != p0 {
		t.Fatalf("checkpoint moved from %v to %v while Redis was down", p0, cp)
	}
	if !p.logHas("redis delete failed; retrying") {
		t.Errorf("no log of the failing deletes:\n%s", p.out.String())
	}
	pEnd := masterPos(t, db)

	e.redis.Start(t)
	// Readers refill the cache at once, with the rows of the outage.
	control := userKeys(30)
	e.setKeys(control...)
	e.setKeys(userKeysOf(outage...)...)
	e.waitGone(60*time.Second, userKeysOf(outage...)...)
	e.waitCheckpoint(60*time.Second, pEnd)
	if left := e.exists(control...); len(left) != len(control) {
		t.Errorf("keys of a row nobody changed were deleted; present %q of %q", left, control)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// With Redis down a SIGTERM cannot finish; a second signal exits at once
// (code 130) without saving past the unfinished changes, and the next start
// invalidates them.
func TestRunSecondSignalLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.seedUsers(10)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'x' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)

	e.redis.Stop(t)
	ids := seq(2, 6)
	w := startWriter(t, e.db, e.renames("s", ids...), nil)
	w.wait(t, 30*time.Second)
	e.waitLog(p, "redis delete failed; retrying")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	e.waitLog(p, "binlog reading stopped")
	p.alive(t) // still trying to finish the deletes
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("a second SIGTERM did not end the process:\n%s", p.out.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d after a second signal, want 130:\n%s", code, p.out.String())
	}
	cp, _ := e.readCheckpoint()
	_, after := w.positions()
	if cp.cmp(after[0]) >= 0 {
		t.Fatalf("checkpoint %v is past the first change made while Redis was down (ends by %v)", cp, after[0])
	}

	e.redis.Start(t)
	e.setKeys(userKeysOf(ids...)...)
	p2 := e.start()
	if !strings.Contains(p2.out.String(), "resuming from checkpoint") {
		t.Errorf("restart did not resume from the checkpoint:\n%s", p2.out.String())
	}
	e.waitGone(30*time.Second, userKeysOf(ids...)...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// kill -9 while Redis is down and the tailer has read every change: the
// checkpoint must not have passed any of them (their keys were never
// deleted). After Redis is back (empty, refilled by readers) and cachesync
// restarts, every key of those changes is gone.
func TestRunKill9WhileRedisDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(50)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'x' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)

	e.redis.Stop(t)
	ids := seq(2, 50)
	w := startWriter(t, e.db, e.renames("d", ids...), nil)
	w.wait(t, 60*time.Second)
	e.waitMetric(p, 60*time.Second, `cachesync_binlog_rows_total{op="update",table="`+e.name+`.users"}`, float64(1+len(ids)))
	// Several failed rounds (retry: 20ms doubling) outlast checkpoint.min_interval:
	// a checkpoint that wrongly moves has had its chance to be saved.
	e.waitMetric(p, 60*time.Second, `cachesync_redis_retries_total{phase="first"}`, 6)
	p.kill9(t)
	cp, _ := e.readCheckpoint()
	_, after := w.positions()
	if cp.cmp(after[0]) >= 0 {
		t.Fatalf("checkpoint %v is past the first change made while Redis was down (ends by %v); its keys were never deleted", cp, after[0])
	}

	e.redis.Start(t)
	e.setKeys(userKeysOf(ids...)...)
	p2 := e.start()
	if !p2.logHas("resuming from checkpoint", `"position":"`+cp.String()+`"`) {
		t.Errorf("restart did not resume from checkpoint %v:\n%s", cp, p2.out.String())
	}
	e.waitGone(30*time.Second, userKeysOf(ids...)...)
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
