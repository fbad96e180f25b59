package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
)

// binPath is the cachesync binary built once for the end-to-end tests, so
// they exercise the real process: flags, signals, exit codes, kill -9.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cachesync-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "cachesync")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building cachesync: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testenv.Main(m)
}

// env is one test's world: a database on the shared MariaDB, its own Redis,
// and a config file pointing at both.
type env struct {
	t     testing.TB
	db    *testenv.MariaDB
	name  string // database name
	redis *testenv.Redis
	rdb   *redis.Client
	dir   string
	cfg   string // config path
}

// newEnv creates the database, runs schema, and writes a config whose rules
// are given with "DB" standing for the database name.
func newEnv(t testing.TB, db *testenv.MariaDB, schema []string, rules string, extra string) *env {
	t.Helper()
	return newEnvRedis(t, db, schema, rules, extra, testenv.RedisOptions{})
}

// newEnvRedis is newEnv with options for the env's Redis (keyspace
// notifications, for example).
func newEnvRedis(t testing.TB, db *testenv.MariaDB, schema []string, rules string, extra string, ro testenv.RedisOptions) *env {
	t.Helper()
	e := &env{t: t, db: db, redis: testenv.StartRedis(t, ro), dir: t.TempDir()}
	e.rdb = e.redis.Client(t)
	e.name = db.NewDatabase(t)
	for _, s := range schema {
		db.Exec(t, strings.ReplaceAll(s, "DB.", "`"+e.name+"`."))
	}
	// checkpoint.min_interval is pinned below its 1s default: waits for a
	// save stay short, and a test that the checkpoint never passes some
	// work sees saves while that work is pending. The benchmarks drop it
	// (benchTarget.start) and measure the default.
	cfg := fmt.Sprintf(`source: {addr: %s, user: root, flavor: mariadb, server_id: %d, heartbeat_period: 1s}
checkpoint: {store: file, min_interval: 100ms, path: %s}
redis: {addrs: [%s]}
retry: {initial: 20ms, max: 500ms}
delete: {second_delay: 200ms}
http: {addr: "off"}
%s
rules:
%s`, db.Addr, db.ReplicaServerID(), filepath.Join(e.dir, "cachesync.pos"), e.redis.Addr, extra, strings.ReplaceAll(rules, "DB.", e.name+"."))
	e.cfg = filepath.Join(e.dir, "cachesync.yaml")
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	e.db.Exec(e.t, strings.ReplaceAll(q, "DB.", "`"+e.name+"`."), args...)
}

// proc is a running cachesync.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `cachesync run` on the env's config and waits until it logs
// that it is streaming. It is killed when the test ends if still running.
func (e *env) start() *proc {
	e.t.Helper()
	return e.startEnv()
}

func (e *env) waitLog(p *proc, any ...string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out := p.out.String()
		for _, s := range any {
			if strings.Contains(out, s) {
				return
			}
		}
		select {
		case <-p.done:
			e.t.Fatalf("cachesync exited (%v) before logging %q:\n%s", p.err, any, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.t.Fatalf("cachesync did not log %q:\n%s", any, p.out.String())
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t testing.TB) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("cachesync did not stop after SIGTERM:\n%s", p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// kill9 kills it with SIGKILL: no chance to finish or save anything.
func (p *proc) kill9(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// setKeys fills the cache, as readers would.
func (e *env) setKeys(keys ...string) {
	e.t.Helper()
	ctx := context.Background()
	pipe := e.rdb.Pipeline()
	for _, k := range keys {
		pipe.Set(ctx, k, "cached", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// waitGone waits (bounded) until none of keys exists; it reports which survived.
func (e *env) waitGone(limit time.Duration, keys ...string) {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for {
		var left []string
		for i := 0; i < len(keys); i += 1000 {
			chunk := keys[i:min(i+1000, len(keys))]
			vals, err := e.rdb.MGet(ctx, chunk...).Result()
			if err != nil {
				e.t.Fatal(err)
			}
			for j, v := range vals {
				if v != nil {
					left = append(left, chunk[j])
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d keys still cached after %v, e.g. %q", len(left), len(keys), limit, left[:min(5, len(left))])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exists reports which of keys are present.
func (e *env) exists(keys ...string) []string {
	e.t.Helper()
	var have []string
	for _, k := range keys {
		if n, _ := e.rdb.Exists(context.Background(), k).Result(); n == 1 {
			have = append(have, k)
		}
	}
	return have
}
