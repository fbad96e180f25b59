package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

const usersSchema = "CREATE TABLE DB.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), visits INT NOT NULL DEFAULT 0)"

const usersRules = `  - table: DB.users
    keys: ["user:{id}", "user:email:{email}"]
    watch: [id, email, name]
`

func TestRunInvalidatesInsertUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	p := e.start()

	e.setKeys("user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io", "user:3")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann'), (2, 'b@x.io', 'Bob'), (3, NULL, 'Cy')")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io", "user:3")

	// A changed email invalidates the old and the new key.
	e.setKeys("user:1", "user:email:a@x.io", "user:email:ann@x.io")
	e.exec("UPDATE DB.users SET email = 'ann@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:ann@x.io")

	// visits is not watched: the keys must stay.
	e.setKeys("user:2")
	e.exec("UPDATE DB.users SET visits = visits + 1 WHERE id = 2")
	e.setKeys("user:3")
	e.exec("DELETE FROM DB.users WHERE id = 42") // no row: nothing in the binlog
	e.setKeys("user:1")
	e.exec("DELETE FROM DB.users WHERE id = 1")
	e.waitGone(10*time.Second, "user:1") // later change processed, so the earlier unwatched one was too
	if left := e.exists("user:2", "user:3"); len(left) != 2 {
		t.Fatalf("keys of unwatched/no-op changes were deleted; present: %v", left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}
}

func TestRunLargeTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	const n = 100000
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	p := e.start()
	keys := make([]string, 0, 2*n)
	for i := 1; i <= n; i++ {
		keys = append(keys, fmt.Sprintf("user:%d", i), fmt.Sprintf("user:email:u%d@x.io", i))
	}
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET name = 'changed'") // one transaction, 100,000 rows
	e.waitGone(120*time.Second, keys...)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// rewriteConfig edits the env's config file in place.
func (e *env) rewriteConfig(old, new string) {
	e.t.Helper()
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		e.t.Fatalf("config has no %q", old)
	}
	if err := os.WriteFile(e.cfg, []byte(strings.Replace(string(raw), old, new, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// checkpointFile reads the saved checkpoint.
func (e *env) checkpointFile() map[string]any {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.dir, "cachesync.pos"))
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

func TestRunGTIDModeResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
	p := e.start()
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	cp := e.checkpointFile()
	if g, _ := cp["gtid"].(string); !strings.Contains(g, "-") {
		t.Fatalf("checkpoint has no GTID set: %v", cp)
	}
	// Changes while stopped are picked up from the GTID set on restart.
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:b@x.io")
	p = e.start()
	e.waitLog(p, "resuming from checkpoint")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:b@x.io")
	p.stop(t)
}

func TestQuietTablesMoveTheCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, "CREATE TABLE DB.audit (id INT PRIMARY KEY)"}, usersRules, "")
	p := e.start()
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id) VALUES (1)")
	e.waitGone(10*time.Second, "user:1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(e.dir, "cachesync.pos")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint saved")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := e.checkpointFile()["pos"]
	for i := 0; ; i++ {
		e.exec(fmt.Sprintf("INSERT INTO DB.audit VALUES (%d)", i)) // unmapped table only
		if e.checkpointFile()["pos"] != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("checkpoint did not move past transactions on an unmapped table")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop(t)
}
