package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// TestObserveReport runs `cachesync observe --report` with no invalidator
// at all: rows updated while their keys keep the old version are confirmed
// stale, logged, and counted in the table printed at exit.
func TestObserveReport(t *testing.T) {
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{"CREATE TABLE DB.users (id INT PRIMARY KEY, version BIGINT NOT NULL, name VARCHAR(50)) CHARSET utf8mb4"},
		`  - table: DB.users
    keys: ["user:{id}"]
    observe: {column: version, field: "$.version"}
`, "observe: {sample: 1, windows: [200ms, 500ms]}")
	for i := 1; i <= 20; i++ {
		e.exec("INSERT INTO DB.users VALUES (?, 1, 'Zoë 🚀')", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "observe", "--config", e.cfg, "--report", "--for", "5s",
		"--server-id", strconv.FormatUint(uint64(db.ReplicaServerID()), 10))
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ { // 3 s of changes, each leaving its key stale
		if err := e.rdb.Set(ctx, fmt.Sprintf("user:%d", i), `{"version":1,"name":"Zoë 🚀"}`, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		e.exec("UPDATE DB.users SET version = 2 WHERE id = ?", i)
		time.Sleep(150 * time.Millisecond)
	}
	err := cmd.Wait()
	res := cliResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if err != nil || res.code != 0 {
		t.Fatalf("observe: %v\n%v", err, res)
	}
	if !strings.Contains(res.stdout, "consistency of 1 observed rule(s), sample 1") {
		t.Errorf("no report header:\n%v", res)
	}
	m := regexp.MustCompile(`500ms\s+(\d+)\s+\d+\s+(\d+) confirmed`).FindStringSubmatch(res.stdout)
	if m == nil {
		t.Fatalf("no last-window line in the report:\n%v", res)
	}
	checked, _ := strconv.Atoi(m[1])
	confirmed, _ := strconv.Atoi(m[2])
	if confirmed < 10 || confirmed != checked { // the first changes may come before the reader starts
		t.Errorf("%d of %d checks confirmed stale at 500ms, want all of at least 10:\n%v", confirmed, checked, res)
	}
	if n := strings.Count(res.stderr, "cache inconsistent with the database"); n != confirmed {
		t.Errorf("%d inconsistency log lines, want %d", n, confirmed)
	}
}
