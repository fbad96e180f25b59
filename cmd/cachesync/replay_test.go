package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// The replay scenario: changes before the range, in it, and after it. The
// keys each phase feeds are written out by hand: the independent decode the
// replay is compared with.
var (
	rpSchema = []string{
		"CREATE TABLE DB.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), visits INT NOT NULL DEFAULT 0)",
		"CREATE TABLE DB.orders (id INT PRIMARY KEY, user_id BIGINT UNSIGNED NOT NULL)",
	}
	rpRules = `  - table: DB.users
    keys: ["user:{id}", "user:email:{email}"]
    watch: [email, name]
  - table: DB.orders
    keys: ["order:{id}", "user:{user_id}:orders"]
`
	rpBefore = []string{
		"INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann'), (2, 'b@x.io', 'Bob')",
		"INSERT INTO DB.orders VALUES (1, 1)",
	}
	rpInside = []string{
		"UPDATE DB.users SET email = 'a2@x.io' WHERE id = 1",
		"UPDATE DB.users SET visits = visits + 1 WHERE id = 2", // not watched: no keys
		"INSERT INTO DB.users (id, email, name) VALUES (3, 'c@x.io', 'Cy')",
		"DELETE FROM DB.users WHERE id = 2",
		"INSERT INTO DB.orders VALUES (2, 3)",
	}
	rpAfter = []string{
		"INSERT INTO DB.users (id, email, name) VALUES (4, 'd@x.io', 'Di')",
		"UPDATE DB.users SET email = 'a3@x.io' WHERE id = 1",
	}
	// Keys the range's row changes feed, and keys only changes outside it feed.
	rpInsideKeys  = []string{"user:1", "user:email:a@x.io", "user:email:a2@x.io", "user:3", "user:email:c@x.io", "user:2", "user:email:b@x.io", "order:2", "user:3:orders"}
	rpOutsideKeys = []string{"order:1", "user:1:orders", "user:4", "user:email:d@x.io", "user:email:a3@x.io"}
)

type rpBounds struct{ from, to string }

// replayEnv runs the three phases, marking the range with mark (called
// before and after the inside phase), and caches every key afterwards.
func replayEnv(t *testing.T, db *testenv.MariaDB, extra string, mark func(e *env) string) (*env, rpBounds) {
	t.Helper()
	e := newEnv(t, db, rpSchema, rpRules, extra)
	for _, q := range rpBefore {
		e.exec(q)
	}
	var b rpBounds
	b.from = mark(e)
	for _, q := range rpInside {
		e.exec(q)
	}
	b.to = mark(e)
	for _, q := range rpAfter {
		e.exec(q)
	}
	e.setKeys(append(slices.Clone(rpInsideKeys), rpOutsideKeys...)...)
	return e, b
}

// oneShot runs the binary to completion (bounded) and returns its output.
func (e *env) oneShot(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) } // stacks show where it hangs
	cmd.WaitDelay = 10 * time.Second
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("cachesync %v did not end:\n%s", args, errb.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("cachesync %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func (e *env) replay(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.oneShot(append([]string{"replay", "--config", e.cfg, "--server-id", strconv.Itoa(int(e.db.ReplicaServerID())), "--log-format", "console"}, args...)...)
}

// quotedLines parses --dry-run output: one Go-quoted key per line.
func quotedLines(t *testing.T, out string) []string {
	t.Helper()
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		k, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("dry-run line %q is not a quoted key: %v", line, err)
		}
		keys = append(keys, k)
	}
	return keys
}

func sameKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// checkReplay runs the range as a dry run, then for real, and checks that
// exactly the range's keys are listed, then deleted, and nothing else;
// and that run's checkpoint file is left alone.
func checkReplay(t *testing.T, e *env, b rpBounds) {
	t.Helper()
	cp := filepath.Join(e.dir, "cachesync.pos")
	const cpText = `{"version":1,"file":"untouched.000001","pos":4,"saved_at":"2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(cp, []byte(cpText), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.replay("--from", b.from, "--to", b.to, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	sameKeys(t, "dry run lists", quotedLines(t, out), rpInsideKeys)
	if left := e.exists(append(slices.Clone(rpInsideKeys), rpOutsideKeys...)...); len(left) != len(rpInsideKeys)+len(rpOutsideKeys) {
		t.Fatalf("the dry run deleted keys; left: %q", left)
	}

	out, errOut, code = e.replay("--from", b.from, "--to", b.to)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, errOut)
	}
	if out != "" {
		t.Errorf("replay wrote to stdout: %q", out)
	}
	if left := e.exists(rpInsideKeys...); len(left) != 0 {
		t.Errorf("keys of the range still cached: %q\n%s", left, errOut)
	}
	if left := e.exists(rpOutsideKeys...); len(left) != len(rpOutsideKeys) {
		t.Errorf("keys outside the range were deleted; left only %q", left)
	}
	if !regexp.MustCompile(`keys invalidated\s+9\n`).MatchString(errOut) {
		t.Errorf("summary does not report 9 keys invalidated:\n%s", errOut)
	}
	if raw, _ := os.ReadFile(cp); string(raw) != cpText {
		t.Errorf("replay touched run's checkpoint: %s", raw)
	}
}

// markFilePos marks the range with SHOW MASTER STATUS positions.
func markFilePos(e *env) string {
	f, p := e.db.MasterStatus(e.t)
	return f + ":" + strconv.Itoa(int(p))
}

func TestReplayRangeByFilePos(t *testing.T) {
	t.Parallel()
	e, b := replayEnv(t, testenv.SharedMariaDB(t), "", markFilePos)
	// --tables narrows the same range to one table.
	out, errOut, code := e.replay("--from", b.from, "--to", b.to, "--dry-run", "--tables", e.name+".orders")
	if code != 0 {
		t.Fatalf("--tables dry run: exit %d\n%s", code, errOut)
	}
	sameKeys(t, "--tables "+e.name+".orders lists", quotedLines(t, out), []string{"order:2", "user:3:orders"})
	checkReplay(t, e, b)
}

func TestReplayRangeByGTID(t *testing.T) {
	t.Parallel()
	e, b := replayEnv(t, testenv.SharedMariaDB(t), "", func(e *env) string {
		r := e.db.Exec(t, "SELECT @@GLOBAL.gtid_binlog_pos")
		g, err := r.GetString(0, 0)
		if err != nil || g == "" {
			t.Fatalf("gtid_binlog_pos: %q %v", g, err)
		}
		return g
	})
	checkReplay(t, e, b)
}

// TestReplayRangeByTime marks the range with times. The binlog keeps whole
// seconds, so each mark waits (bounded) for the next second to begin: the
// changes before it carry an earlier timestamp, those after it a later one.
func TestReplayRangeByTime(t *testing.T) {
	t.Parallel()
	e, b := replayEnv(t, testenv.SharedMariaDB(t), "", func(*env) string {
		last := time.Now().Unix()
		for i := 0; i < 100 && time.Now().Unix() <= last; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		return time.Unix(time.Now().Unix(), 0).UTC().Format(time.RFC3339)
	})
	checkReplay(t, e, b)
}

// TestReplayToDefaultsToNow: without --to the replay ends by itself at the
// primary's position when it started, including the last change.
func TestReplayToDefaultsToNow(t *testing.T) {
	t.Parallel()
	e, b := replayEnv(t, testenv.SharedMariaDB(t), "", markFilePos)
	out, errOut, code := e.replay("--from", b.to, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	sameKeys(t, "replay of the after phase lists", quotedLines(t, out),
		[]string{"user:4", "user:email:d@x.io", "user:1", "user:email:a2@x.io", "user:email:a3@x.io"})
}
