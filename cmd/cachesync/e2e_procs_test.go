package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Harness extensions for driving the process and the source concurrently:
// starting without waiting, scraping /metrics, and a SQL writer goroutine
// that records where each of its statements lies in the binlog.

// startNoWait runs `cachesync run` on the env's config with extra
// environment variables ("K=V") and returns at once, without waiting for it
// to stream. It is killed when the test ends if still running.
func (e *env) startNoWait(extraEnv ...string) *proc {
	e.t.Helper()
	cmd := exec.Command(binPath, "run", "--config", e.cfg)
	cmd.Env = append(os.Environ(), extraEnv...)
	return e.spawn(cmd)
}

// spawn starts cmd with its output captured; it is killed when the test
// ends if still running, and its output logged if the test failed.
func (e *env) spawn(cmd *exec.Cmd) *proc {
	e.t.Helper()
	p := &proc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t := e.t
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("cachesync output:\n%s", p.out.String())
		}
	})
	return p
}

// startEnv is start with extra environment variables, e.g. a password the
// config takes from ${VAR}.
func (e *env) startEnv(extraEnv ...string) *proc {
	e.t.Helper()
	p := e.startNoWait(extraEnv...)
	e.waitLog(p, "starting at the primary's current position", "resuming from checkpoint")
	return p
}

var metricsAddr = regexp.MustCompile(`"msg":"serving metrics","addr":"([^"]+)"`)

// enableMetrics makes the next start serve /metrics on a port that is free
// now (config validation does not take port 0).
func (e *env) enableMetrics() {
	e.t.Helper()
	e.editConfig(`http: {addr: "off"}`, `http: {addr: "`+freeAddr(e.t)+`"}`)
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// httpAddr is where p serves http (call enableMetrics before start).
func (e *env) httpAddr(p *proc) string {
	e.t.Helper()
	m := metricsAddr.FindStringSubmatch(p.out.String())
	if m == nil {
		e.t.Fatalf("cachesync does not serve http (call enableMetrics before start):\n%s", p.out.String())
	}
	return m[1]
}

// get fetches path from p's http server: the status code and the body.
func (e *env) get(p *proc, path string) (int, []byte) {
	e.t.Helper()
	resp, err := http.Get("http://" + e.httpAddr(p) + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, body
}

// metric scrapes p's /metrics and returns the value of the sample whose
// line starts with series (name and labels, e.g. `x_total{op="update",table="d.t"}`);
// 0 when absent.
func (e *env) metric(p *proc, series string) float64 {
	e.t.Helper()
	_, body := e.get(p, "/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				e.t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// waitMetric waits (bounded) until the series reaches at least want.
func (e *env) waitMetric(p *proc, limit time.Duration, series string, want float64) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := e.metric(p, series)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s is %v after %v, want at least %v", series, got, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writer runs statements one at a time on its own connection, off the test
// goroutine, and records the server's binlog position before and after each:
// statement i's transaction lies entirely within (before[i], after[i]].
type writer struct {
	mu            sync.Mutex
	before, after []binPos
	done          chan struct{}
	err           error
}

// startWriter runs stmts (already naming real tables) in a goroutine.
// pause, if not nil, is called between statements.
func startWriter(t *testing.T, db *testenv.MariaDB, stmts []string, pause func(i int)) *writer {
	t.Helper()
	c, err := client.Connect(db.Addr, "root", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c.ReadTimeout, c.WriteTimeout = 30*time.Second, 30*time.Second
	w := &writer{done: make(chan struct{})}
	t.Cleanup(func() { <-w.done; c.Close() })
	go func() {
		defer close(w.done)
		for i, s := range stmts {
			before, err := connPos(c)
			if err == nil {
				_, err = c.Execute(s)
			}
			var after binPos
			if err == nil {
				after, err = connPos(c)
			}
			if err != nil {
				w.err = fmt.Errorf("statement %d %q: %w", i, s, err)
				return
			}
			w.mu.Lock()
			w.before, w.after = append(w.before, before), append(w.after, after)
			w.mu.Unlock()
			if pause != nil {
				pause(i)
			}
		}
	}()
	return w
}

func connPos(c *client.Conn) (binPos, error) {
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		return binPos{}, err
	}
	f, _ := r.GetString(0, 0)
	p, _ := r.GetUint(0, 1)
	return binPos{File: f, Pos: uint32(p)}, nil
}

// executed returns how many statements have finished.
func (w *writer) executed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.after)
}

// positions returns copies of the recorded positions.
func (w *writer) positions() (before, after []binPos) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]binPos(nil), w.before...), append([]binPos(nil), w.after...)
}

// wait waits (bounded) for every statement to finish and fails on an error.
func (w *writer) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(limit):
		t.Fatalf("writer did not finish within %v (%d statements done)", limit, w.executed())
	}
	if w.err != nil {
		t.Fatal(w.err)
	}
}

// waitExecuted waits (bounded) until at least n statements have finished.
func (w *writer) waitExecuted(t *testing.T, limit time.Duration, n int) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for w.executed() < n {
		select {
		case <-w.done:
			if w.err != nil {
				t.Fatal(w.err)
			}
			if w.executed() < n {
				t.Fatalf("writer finished after %d statements, want %d", w.executed(), n)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer did only %d of %d statements within %v", w.executed(), n, limit)
		}
	}
}
