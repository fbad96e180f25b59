package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// A table with a composite primary key: 50,000 rows, a = seq DIV 10 and
// b = 'k' + seq MOD 10, two keys per row.
const (
	bfRows   = 50000
	bfSchema = "CREATE TABLE DB.items (a INT NOT NULL, b VARCHAR(8) NOT NULL, c INT NOT NULL, note VARBINARY(20) NULL, PRIMARY KEY (a, b))"
	bfRules  = `  - table: DB.items
    keys: ["item:{a}:{b}", "c:{c}", "note:{note}"]
`
)

type bfRow struct {
	a int
	b string
}

func bfRowOf(seq int) bfRow { return bfRow{a: seq / 10, b: fmt.Sprintf("k%d", seq%10)} }

func (r bfRow) keys(seq int) []string {
	return []string{fmt.Sprintf("item:%d:%s", r.a, r.b), fmt.Sprintf("c:%d", seq)}
}

// less orders rows as the primary key does (b is one digit after 'k').
func (r bfRow) less(o bfRow) bool { return r.a < o.a || r.a == o.a && r.b < o.b }

func bfEnv(t *testing.T, extra string) *env {
	t.Helper()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{bfSchema}, bfRules, extra)
	e.exec(fmt.Sprintf("INSERT INTO DB.items (a, b, c) SELECT seq DIV 10, CONCAT('k', seq MOD 10), seq FROM DB.seq_1_to_%d", bfRows))
	return e
}

func bfAllKeys() []string {
	keys := make([]string, 0, 2*bfRows)
	for seq := 1; seq <= bfRows; seq++ {
		keys = append(keys, bfRowOf(seq).keys(seq)...)
	}
	return keys
}

func (e *env) backfill(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.oneShot(append([]string{"backfill", "--config", e.cfg, "--log-format", "console"}, args...)...)
}

func (e *env) statePath() string { return filepath.Join(e.dir, "bf-state.json") }

func summaryNumber(t *testing.T, stderr, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `\s+(\d+)$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("the summary has no %q line:\n%s", name, stderr)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func TestBackfillCompositeKey50000Rows(t *testing.T) {
	t.Parallel()
	e := bfEnv(t, "")
	keys := bfAllKeys()
	e.setKeys(keys...)
	e.setKeys("unrelated")
	_, errOut, code := e.backfill("--table", e.name+".items", "--state", e.statePath())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if n := e.rdb.DBSize(context.Background()).Val(); n != 1 {
		t.Fatalf("%d keys left in Redis, want only %q; e.g. %q", n, "unrelated", e.exists(keys[:10]...))
	}
	// Every key exactly once: 100,000 distinct keys invalidated, the NULL note skipped per row.
	if got := summaryNumber(t, errOut, "keys invalidated"); got != 2*bfRows {
		t.Errorf("keys invalidated = %d, want %d", got, 2*bfRows)
	}
	if got := summaryNumber(t, errOut, "keys skipped for NULL"); got != bfRows {
		t.Errorf("keys skipped for NULL = %d, want %d", got, bfRows)
	}
	if got := summaryNumber(t, errOut, "rows read"); got != bfRows {
		t.Errorf("rows read = %d, want %d", got, bfRows)
	}
}

// The same 50,000 rows in a table without a primary key: read in one
// streaming query, handed on in chunks with one in flight (the reader waits
// for the deleter inside the query), every key deleted once.
func TestBackfillWithoutPrimaryKey50000Rows(t *testing.T) {
	t.Parallel()
	noPK := "CREATE TABLE DB.items (a INT NOT NULL, b VARCHAR(8) NOT NULL, c INT NOT NULL, note VARBINARY(20) NULL)"
	e := newEnv(t, testenv.SharedMariaDB(t), []string{noPK}, bfRules, "")
	e.exec(fmt.Sprintf("INSERT INTO DB.items (a, b, c) SELECT seq DIV 10, CONCAT('k', seq MOD 10), seq FROM DB.seq_1_to_%d", bfRows))
	keys := bfAllKeys()
	e.setKeys(keys...)
	e.setKeys("unrelated")
	_, errOut, code := e.backfill("--table", e.name+".items", "--state", e.statePath(), "--chunk", "2000", "--in-flight", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if n := e.rdb.DBSize(context.Background()).Val(); n != 1 {
		t.Fatalf("%d keys left in Redis, want only %q; e.g. %q", n, "unrelated", e.exists(keys[:10]...))
	}
	if got := summaryNumber(t, errOut, "rows read"); got != bfRows {
		t.Errorf("rows read = %d, want %d", got, bfRows)
	}
	if got := summaryNumber(t, errOut, "keys invalidated"); got != 2*bfRows {
		t.Errorf("keys invalidated = %d, want %d", got, 2*bfRows)
	}
	if st, ok := e.readState(); !ok || !st.Done || st.Rows != bfRows {
		t.Errorf("state file: %+v (present %v), want done after %d rows", st, ok, bfRows)
	}
}

type bfStateFile struct {
	Rows   int64 `json:"rows"`
	Done   bool  `json:"done"`
	Cursor []struct {
		Kind, Value string
	} `json:"cursor"`
}

func (e *env) readState() (bfStateFile, bool) {
	var st bfStateFile
	raw, err := os.ReadFile(e.statePath())
	if err != nil {
		return st, false
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		e.t.Fatalf("state file is not JSON (it must be replaced atomically): %v\n%s", err, raw)
	}
	return st, true
}

// TestBackfillKilledAndResumed kills the real binary with SIGKILL halfway,
// checks that the state file never claims a row whose keys are still
// cached, re-caches every key after its cursor, and resumes: every key
// must end up invalidated.
func TestBackfillKilledAndResumed(t *testing.T) {
	t.Parallel()
	e := bfEnv(t, "")
	e.setKeys(bfAllKeys()...)
	table := e.name + ".items"
	p := &proc{cmd: exec.Command(binPath, "backfill", "--config", e.cfg, "--table", table, "--state", e.statePath(),
		"--rate", "4000", "--log-format", "console"), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	var st bfStateFile
	for i := 0; ; i++ {
		if s, ok := e.readState(); ok && s.Rows >= 10000 {
			st = s
			break
		}
		select {
		case <-p.done:
			t.Fatalf("backfill ended before it could be killed halfway:\n%s", p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if i > 3000 {
			t.Fatalf("no progress saved within a minute:\n%s", p.out.String())
		}
	}
	p.kill9(t)
	if s, _ := e.readState(); s.Rows > st.Rows {
		st = s // it moved on between the read and the kill
	}
	if st.Done || st.Rows >= bfRows || len(st.Cursor) != 2 {
		t.Fatalf("state after kill: %+v", st)
	}
	a, _ := strconv.Atoi(st.Cursor[0].Value)
	bRaw, _ := decodeB64(st.Cursor[1].Value)
	cursor := bfRow{a: a, b: bRaw}
	var after []string
	for seq := 1; seq <= bfRows; seq++ {
		r := bfRowOf(seq)
		if cursor.less(r) {
			after = append(after, r.keys(seq)...)
		} else if left := e.exists(r.keys(seq)...); len(left) > 0 {
			t.Fatalf("the state file says row %v is done (cursor %v), but its keys %q are still cached", r, cursor, left)
		}
	}
	if want := 2 * (bfRows - int(st.Rows)); len(after) != want {
		t.Fatalf("%d keys after cursor %v, want %d (rows done %d)", len(after), cursor, want, st.Rows)
	}
	e.setKeys(after...) // whatever the killed run deleted after its cursor comes back: the resume must do it

	_, errOut, code := e.backfill("--table", table, "--state", e.statePath())
	if code == 0 {
		t.Fatalf("a new backfill over an unfinished state file must be refused:\n%s", errOut)
	}
	_, errOut, code = e.backfill("--table", table, "--state", e.statePath(), "--resume")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, errOut)
	}
	if left := e.exists(after...); len(left) != 0 {
		t.Fatalf("%d keys still cached after the resume, e.g. %q", len(left), left[:min(5, len(left))])
	}
	if got := summaryNumber(t, errOut, "rows read"); got != bfRows-st.Rows {
		t.Errorf("the resume read %d rows, want the %d after the cursor", got, bfRows-st.Rows)
	}
	if s, _ := e.readState(); !s.Done || s.Rows != bfRows {
		t.Errorf("final state %+v, want done with %d rows", s, bfRows)
	}
}

func decodeB64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// TestBackfillDryRunAndWhere: --dry-run lists the keys of the rows --where
// selects and deletes nothing; the same --where then deletes exactly those.
func TestBackfillDryRunAndWhere(t *testing.T) {
	t.Parallel()
	e := bfEnv(t, "")
	e.exec("UPDATE DB.items SET note = X'6E00FF' WHERE c = 7") // a key that is not text
	keys := bfAllKeys()
	e.setKeys(keys...)
	table := e.name + ".items"
	where := "c BETWEEN 5 AND 14 -- a comment"
	var want []string
	for seq := 5; seq <= 14; seq++ {
		want = append(want, bfRowOf(seq).keys(seq)...)
	}
	want = append(want, "note:n\x00\xff")
	out, errOut, code := e.backfill("--table", table, "--where", where, "--dry-run", "--chunk", "3", "--state", e.statePath())
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	sameKeys(t, "dry run lists", quotedLines(t, out), want)
	if n := e.rdb.DBSize(context.Background()).Val(); n != int64(len(keys)) {
		t.Fatalf("the dry run deleted %d keys", int64(len(keys))-n)
	}
	if _, err := os.Stat(e.statePath()); err == nil {
		t.Error("the dry run wrote a state file")
	}
	e.setKeys("note:n\x00\xff")
	if _, errOut, code = e.backfill("--table", table, "--where", where, "--chunk", "3", "--state", e.statePath()); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if left := e.exists(want...); len(left) != 0 {
		t.Errorf("keys of the selected rows still cached: %q", left)
	}
	if n := e.rdb.DBSize(context.Background()).Val(); n != int64(len(keys)-20) {
		t.Errorf("%d keys left, want %d: rows outside --where were invalidated", n, len(keys)-20)
	}
}
