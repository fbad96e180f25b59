package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// Helpers shared by the scenario tests (e2e_*_test.go). They extend the
// harness in harness_test.go without changing it.

// binPos is a binlog coordinate.
type binPos struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

func (p binPos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// cmp orders two positions: -1, 0 or 1 (event.Position.Compare).
func (p binPos) cmp(q binPos) int {
	return event.Position{File: p.File, Pos: p.Pos}.Compare(event.Position{File: q.File, Pos: q.Pos})
}

// masterPos is the end of everything the server has committed so far.
func masterPos(t *testing.T, db *testenv.MariaDB) binPos {
	t.Helper()
	f, p := db.MasterStatus(t)
	return binPos{File: f, Pos: p}
}

func (e *env) checkpointPath() string { return filepath.Join(e.dir, "cachesync.pos") }

// readCheckpoint reads the JSON checkpoint; ok is false when there is none.
func (e *env) readCheckpoint() (pos binPos, ok bool) {
	e.t.Helper()
	data, err := os.ReadFile(e.checkpointPath())
	if errors.Is(err, os.ErrNotExist) {
		return binPos{}, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var rec struct {
		Version int `json:"version"`
		binPos
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		e.t.Fatalf("checkpoint %s is not JSON: %v\n%s", e.checkpointPath(), err, data)
	}
	if rec.Version != 1 || rec.File == "" {
		e.t.Fatalf("checkpoint %s has no usable position: %s", e.checkpointPath(), data)
	}
	return rec.binPos, true
}

// writeCheckpoint puts raw bytes where cachesync keeps its checkpoint.
func (e *env) writeCheckpoint(raw string) {
	e.t.Helper()
	if err := os.WriteFile(e.checkpointPath(), []byte(raw), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// waitCheckpoint waits (bounded) until the saved checkpoint reaches at least
// want, and returns it.
func (e *env) waitCheckpoint(limit time.Duration, want binPos) binPos {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got, ok := e.readCheckpoint()
		if ok && got.cmp(want) >= 0 {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("checkpoint did not reach %v within %v (at %v, saved: %v)", want, limit, got, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// editConfig replaces old, which must occur exactly once, by new in the config.
func (e *env) editConfig(old, new string) {
	e.t.Helper()
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if n := strings.Count(string(raw), old); n != 1 {
		e.t.Fatalf("config edit: %q occurs %d times in:\n%s", old, n, raw)
	}
	if err := os.WriteFile(e.cfg, []byte(strings.Replace(string(raw), old, new, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// cliResult is one finished invocation of the binary.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs the binary to completion with extra environment variables
// ("K=V"). A run that does not end within limit is killed and fails the test:
// every bad input must end the process, not leave it retrying.
func runCLI(t *testing.T, limit time.Duration, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	// On timeout, SIGQUIT: the Go runtime prints every goroutine's stack,
	// which shows where it hangs; SIGKILL follows if that does not end it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), env...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("cachesync %v did not exit within %v (stopped with SIGQUIT):\n%v", args, limit, res)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("cachesync %v: %v", args, err)
	}
	return res
}

// wantFailure asserts a non-zero exit whose stderr names every one of want
// (case-insensitively) and none of unwanted in stdout or stderr.
func wantFailure(t *testing.T, r cliResult, want []string, unwanted ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("want a non-zero exit:\n%v", r)
	}
	low := strings.ToLower(r.stderr)
	for _, w := range want {
		if !strings.Contains(low, strings.ToLower(w)) {
			t.Errorf("stderr does not mention %q:\n%v", w, r)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(r.stdout+r.stderr, u) {
			t.Errorf("output contains %q, which it must not:\n%v", u, r)
		}
	}
}

// alive fails the test if the process has exited.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("cachesync exited (%v) but should keep running:\n%s", p.err, p.out.String())
	default:
	}
}

// qualify replaces "DB." by the env's database, as e.exec does.
func (e *env) qualify(q string) string {
	return strings.ReplaceAll(q, "DB.", "`"+e.name+"`.")
}

// logHas reports whether the process output contains every one of subs.
func (p *proc) logHas(subs ...string) bool {
	out := p.out.String()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			return false
		}
	}
	return true
}

// keyRange returns fmt.Sprintf(format, i) for i in [from, to].
func keyRange(format string, from, to int) []string {
	out := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// readFile returns a file's content as a string.
func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// passwordFile writes pw to a file in the env's directory and returns its
// path, for password_file: a secret is never written in the config itself.
func (e *env) passwordFile(pw string) string {
	e.t.Helper()
	f, err := os.CreateTemp(e.dir, "pw-*")
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(pw + "\n"); err != nil {
		e.t.Fatal(err)
	}
	return f.Name()
}

// configCopy writes e's config, rewritten by rewrite (given the new
// directory), into a directory of its own: a second instance of the same
// config, as on another host. It returns the file and the directory.
func (e *env) configCopy(rewrite func(cfg, dir string) string) (path, dir string) {
	e.t.Helper()
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	dir = e.t.TempDir()
	path = filepath.Join(dir, "cachesync.yaml")
	if err := os.WriteFile(path, []byte(rewrite(string(raw), dir)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path, dir
}
