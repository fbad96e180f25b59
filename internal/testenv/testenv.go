// Package testenv starts real MariaDB and Redis servers for integration
// tests: private copies on free 127.0.0.1 ports in temp dirs, never the
// system's services. Each server is stopped by its PID when the test ends.
//
// When a server binary is missing the test is skipped, or fails when
// CACHESYNC_REQUIRE_SERVICES=1 (as in CI and `make test`), so a CI run
// cannot go green by skipping. scripts/deps.sh installs the binaries.
//
// A package with many tests shares one MariaDB; see Main and SharedMariaDB.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvRequire names the environment variable that turns a missing server
// binary from a skip into a failure.
const EnvRequire = "CACHESYNC_REQUIRE_SERVICES"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// stopGrace bounds how long a server may take to exit after SIGTERM.
const stopGrace = 60 * time.Second

// RequireServices reports whether tests must fail, rather than skip, when
// MariaDB or Redis cannot be found.
func RequireServices() bool { return os.Getenv(EnvRequire) == "1" }

// lookBinary finds name in PATH or, since Debian puts mariadbd there and a
// non-root PATH often lacks it, in /usr/sbin and /usr/local/sbin.
func lookBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /usr/local/sbin", name)
}

// requireBinaries returns the paths of the named binaries, or skips (fails
// when RequireServices) the test naming what is missing and how to get it.
func requireBinaries(t testing.TB, pkg string, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := lookBinary(n)
		if err != nil {
			msg := fmt.Sprintf("testenv: %v; install it with scripts/deps.sh (apt-get install %s)", err, pkg)
			if RequireServices() {
				t.Fatalf("%s [%s=1, so this is a failure, not a skip]", msg, EnvRequire)
			}
			t.Skip(msg)
		}
		paths[i] = p
	}
	return paths
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process can
// take it before the server binds it; callers retry with a new port when the
// server reports the address in use.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls ready until it succeeds, p exits (errExited) or
// startTimeout passes; the error carries ready's last failure.
func waitReady(p *proc, ready func(context.Context) error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = ready(ctx)
		cancel()
		if last == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%w (%v)", errExited, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", startTimeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// makeDir creates a fresh directory for one server. os.MkdirTemp rather than
// t.TempDir: a datadir must outlive Stop/Start within a test, and the shared
// server outlives every test.
// The directory records the test binary's PID, for sweepStale.
func makeDir(kind string) (string, error) {
	sweep.Do(sweepStale)
	dir, err := os.MkdirTemp("", "cachesync-"+kind+"-")
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	err = os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	return dir, err
}

var sweep sync.Once // process-wide: one sweep per test binary is plenty

// sweepStale removes the directories of test binaries that died without
// their cleanups (a panic, a `go test -timeout`). Their servers died with
// them (Pdeathsig, Linux only); only the files were left.
func sweepStale() {
	if runtime.GOOS != "linux" {
		return
	}
	for _, kind := range []string{"mariadb", "redis"} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "cachesync-"+kind+"-*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
			if err != nil {
				continue // not ours, or its owner has not written the file yet
			}
			pid, err := strconv.Atoi(string(b))
			if err != nil || pid <= 0 {
				continue
			}
			if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
				continue // the owner lives
			}
			_ = os.RemoveAll(d)
		}
	}
}

// fatalIf fails the test with err, if any.
func fatalIf(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
