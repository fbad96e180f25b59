package main

import (
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

// xaConn opens a connection for one XA transaction on the env's database.
func (e *env) xaConn(t *testing.T) *client.Conn {
	t.Helper()
	c, err := client.Connect(e.db.Addr, "root", "", e.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// firstDeletes is how many keys the first deletes have removed so far.
func (e *env) firstDeletes(p *proc) float64 {
	return e.metric(p, `cachesync_keys_invalidated_total{phase="first"}`)
}

// settled waits (bounded) until the first deletes have reached first keys
// and every one of them has had its second: no delete of the changes so far
// is still to come.
func (e *env) settled(p *proc, first float64) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f := e.firstDeletes(p)
		if second := e.metric(p, `cachesync_keys_invalidated_total{phase="second"}`); f >= first && second == f {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("first deletes %v (want %v) and second deletes did not settle within 30s", f, first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func xa(t *testing.T, c *client.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := c.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// MariaDB writes an XA transaction's rows at XA PREPARE: cachesync deletes
// their keys then, and again when the XA COMMIT (or ROLLBACK) is read, so a
// reader that refilled a key between the two does not keep the old value.
// Two XA transactions open at once: every completion deletes both sets of
// keys again (the XIDs cannot be told apart), and once both are complete
// nothing is kept: the next XA commit deletes its own keys only. Second
// deletes are awaited through the metrics, never by sleeping.
//
// Its own server: every XA transaction of the server counts (a completion
// cannot be matched to its prepare), so another test's XA transaction open
// meanwhile on a shared server made x2 and x3 stay kept and x4's commit
// delete them again (10 keys instead of 4): the test failed now and then.
func TestRunXACommitDeletesAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.StartMariaDB(t, testenv.MariaDBOptions{}), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(5)
	p := e.start()

	// Each user row has two keys (user:N, user:email:uN@x.io); f counts
	// the first deletes before each step, so settled knows what to expect.
	e.setKeys("user:1")
	c1 := e.xaConn(t)
	f := e.firstDeletes(p)
	xa(t, c1, "XA START 'x1'", "UPDATE users SET name = 'xa' WHERE id = 1", "XA END 'x1'", "XA PREPARE 'x1'")
	e.settled(p, f+2)   // deleted at the prepare, twice
	e.setKeys("user:1") // a reader refills the old value
	f = e.firstDeletes(p)
	xa(t, c1, "XA COMMIT 'x1'")
	e.settled(p, f+2)
	if left := e.exists("user:1"); len(left) != 0 {
		t.Fatalf("the XA commit left %q", left)
	}

	c2, c3 := e.xaConn(t), e.xaConn(t)
	f = e.firstDeletes(p)
	xa(t, c2, "XA START 'x2'", "UPDATE users SET name = 'xa' WHERE id = 2", "XA END 'x2'", "XA PREPARE 'x2'")
	xa(t, c3, "XA START 'x3'", "UPDATE users SET name = 'xa' WHERE id = 3", "XA END 'x3'", "XA PREPARE 'x3'")
	e.settled(p, f+4) // both prepares
	e.setKeys("user:2", "user:3")
	f = e.firstDeletes(p)
	xa(t, c2, "XA COMMIT 'x2'")
	e.settled(p, f+4) // both open prepares, again
	if left := e.exists("user:2", "user:3"); len(left) != 0 {
		t.Fatalf("the first XA commit left %q", left)
	}
	e.setKeys("user:3")
	f = e.firstDeletes(p)
	xa(t, c3, "XA ROLLBACK 'x3'")
	e.settled(p, f+4)
	if left := e.exists("user:3"); len(left) != 0 {
		t.Fatalf("the XA rollback left %q", left)
	}

	// Both complete: nothing of theirs is kept, so the next XA
	// transaction's completion deletes its own keys only.
	e.setKeys("user:2", "user:4")
	f = e.firstDeletes(p)
	c4 := e.xaConn(t)
	xa(t, c4, "XA START 'x4'", "UPDATE users SET name = 'xa' WHERE id = 4", "XA END 'x4'", "XA PREPARE 'x4'", "XA COMMIT 'x4'")
	e.settled(p, f+4) // x4's prepare and commit
	if left := e.exists("user:2", "user:4"); len(left) != 1 || left[0] != "user:2" {
		t.Errorf("after x2 and x3 completed, the next XA commit left %q, want only user:2 (not deleted again)", left)
	}
	if got := e.firstDeletes(p); got != f+4 {
		t.Errorf("the next XA transaction deleted %v keys, want its own 4 (2 at the prepare, 2 at the commit)", got-f)
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// kill -9 between XA PREPARE and XA COMMIT, with the checkpoint already
// past the prepare: the open prepare was saved beside the checkpoint, so
// the restarted process still deletes its keys again at the commit.
func TestRunXACommitAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.seedUsers(5)
	p := e.start()
	c := e.xaConn(t)
	xa(t, c, "XA START 'r1'", "UPDATE users SET name = 'xa' WHERE id = 1", "XA END 'r1'", "XA PREPARE 'r1'")
	e.setKeys("user:5")
	e.exec("UPDATE DB.users SET name = 'after' WHERE id = 5") // a boundary after the prepare
	e.waitGone(10*time.Second, "user:5")
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
	p.kill9(t)

	p = e.start()
	e.setKeys("user:1") // a reader refilled the old value while cachesync was down
	xa(t, c, "XA COMMIT 'r1'")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// The de-duplication set of one event group does not outlive it: an XA
// PREPARE or XA COMMIT group ends with no boundary go-mysql reports, and
// the next ordinary transaction updating the same row had its key dropped
// as a duplicate of the XA transaction's. Its own server, so no other
// test's commit ends the set by chance.
func TestRunDedupEndsWithXAGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.StartMariaDB(t, testenv.MariaDBOptions{}), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(2)
	p := e.start()
	c := e.xaConn(t)
	f := e.firstDeletes(p)
	xa(t, c, "XA START 'd1'", "UPDATE users SET name = 'xa' WHERE id = 1", "XA END 'd1'", "XA PREPARE 'd1'", "XA COMMIT 'd1'")
	e.settled(p, f+4)   // 2 keys at the prepare, 2 at the commit, second deletes done
	e.setKeys("user:1") // a reader refills the committed value
	e.exec("UPDATE DB.users SET name = 'plain' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
