package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

var serverIDRe = regexp.MustCompile(`server_id: (\d+)`)

// Two instances on one checkpoint file would both stream and overwrite each
// other's position: the second refuses to start, naming the first.
func TestSecondInstanceOnOneCheckpointRefusesToStart(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	p := e.start()
	other, _ := e.configCopy(func(cfg, _ string) string {
		return serverIDRe.ReplaceAllString(cfg, "server_id: "+strconv.Itoa(int(db.ReplicaServerID())))
	})
	r := runCLI(t, exitLimit, nil, "run", "--config", other)
	wantFailure(t, r, []string{e.checkpointPath(), "another cachesync", "pid " + strconv.Itoa(p.cmd.Process.Pid)},
		"starting at the primary's current position", "resuming from checkpoint")
	// The first goes on, and after it stops the lock is free again.
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	p2 := e.start()
	p2.stop(t)
}

// Two instances with one server_id (and separate checkpoints): the server
// lets one replica connection per id live, so they kick each other off. The
// message says so, naming source.server_id.
func TestSameServerIDIsNamed(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	p := e.start()
	other, dir := e.configCopy(func(cfg, dir string) string {
		return strings.ReplaceAll(cfg, e.dir, dir)
	})
	q := e.spawn(exec.Command(binPath, "run", "--config", other))
	e.waitLog(q, "starting at the primary's current position")
	for i := 1; i <= 20 && !p.logHas("source.server_id") && !q.logHas("source.server_id"); i++ {
		e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email) VALUES (%d, 'a@x.io')", i))
		time.Sleep(300 * time.Millisecond)
	}
	if !p.logHas("source.server_id", "another") && !q.logHas("source.server_id", "another") {
		t.Fatalf("neither instance says that another replica uses its server_id:\n--- first:\n%.4000s\n--- second (%s):\n%.4000s",
			p.out.String(), filepath.Base(dir), q.out.String())
	}
}
