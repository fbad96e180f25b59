package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// With Redis down the first SIGTERM waits for the in-flight deletes (they
// cannot finish); the second exits at once, without saving past them.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	p := e.start()
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	e.redis.Stop(t)
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitLog(p, "redis delete failed; retrying")
	time.Sleep(300 * time.Millisecond) // let a save of earlier, finished work land (min_interval 100ms)
	before := e.checkpointFile()

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	e.waitLog(p, "binlog reading stopped; finishing invalidations in flight")
	select {
	case <-p.done:
		t.Fatalf("exited on the first signal while deletes were unfinished:\n%s", p.out.String())
	case <-time.After(500 * time.Millisecond):
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("second signal did not stop it")
	}
	if code := p.cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("exit code 0 after a forced stop with work unfinished")
	}
	if !strings.Contains(p.out.String(), "second signal") {
		t.Errorf("no word of the forced exit in the output:\n%s", p.out.String())
	}
	after := e.checkpointFile()
	if after["pos"] != before["pos"] || after["file"] != before["file"] {
		t.Fatalf("checkpoint moved from %v to %v past an update whose keys were never deleted", before, after)
	}

	// Restarted with Redis back, the update is replayed and its keys go.
	e.redis.Start(t)
	e.rdb = e.redis.Client(t)
	e.setKeys("user:1", "user:email:a@x.io", "user:email:b@x.io")
	p = e.start()
	e.waitGone(15*time.Second, "user:1", "user:email:a@x.io", "user:email:b@x.io")
	p.stop(t)
}
