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

// settled waits (bounded) until every first delete has had its second:
// no delete of earlier changes is still to come.
func (e *env) settled(p *proc) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first := e.metric(p, `cachesync_keys_invalidated_total{phase="first"}`)
		if second := e.metric(p, `cachesync_keys_invalidated_total{phase="second"}`); first > 0 && second == first {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("second deletes did not catch up with the first within 30s")
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
// nothing is kept: later writes do not delete their keys again.
func TestRunXACommitDeletesAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.seedUsers(5)
	p := e.start()

	e.setKeys("user:1")
	c1 := e.xaConn(t)
	xa(t, c1, "XA START 'x1'", "UPDATE users SET name = 'xa' WHERE id = 1", "XA END 'x1'", "XA PREPARE 'x1'")
	e.waitGone(10*time.Second, "user:1") // deleted at the prepare
	e.settled(p)                         // and its second delete is done
	e.setKeys("user:1")                  // a reader refills the old value
	xa(t, c1, "XA COMMIT 'x1'")
	e.waitGone(10*time.Second, "user:1") // deleted again at the commit

	c2, c3 := e.xaConn(t), e.xaConn(t)
	e.setKeys("user:2", "user:3")
	xa(t, c2, "XA START 'x2'", "UPDATE users SET name = 'xa' WHERE id = 2", "XA END 'x2'", "XA PREPARE 'x2'")
	xa(t, c3, "XA START 'x3'", "UPDATE users SET name = 'xa' WHERE id = 3", "XA END 'x3'", "XA PREPARE 'x3'")
	e.waitGone(10*time.Second, "user:2", "user:3")
	e.settled(p)
	e.setKeys("user:2", "user:3")
	xa(t, c2, "XA COMMIT 'x2'")
	e.waitGone(10*time.Second, "user:2", "user:3")
	e.settled(p)
	e.setKeys("user:3")
	xa(t, c3, "XA ROLLBACK 'x3'")
	e.waitGone(10*time.Second, "user:3")

	// Both complete: nothing of theirs is kept.
	e.settled(p)
	e.setKeys("user:2", "user:5")
	e.exec("UPDATE DB.users SET name = 'plain' WHERE id = 5")
	e.waitGone(10*time.Second, "user:5")
	e.settled(p)
	if left := e.exists("user:2"); len(left) != 1 {
		t.Errorf("user:2 was deleted by an unrelated write after its XA transaction completed")
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
