package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisOptions tunes a server; the zero value is what tests usually want.
type RedisOptions struct {
	// NotifyKeyspaceEvents is redis' notify-keyspace-events, e.g. "Eg" to
	// publish every DEL/UNLINK on __keyevent@0__:del; default "" (off).
	NotifyKeyspaceEvents string
	// ExtraArgs are appended to redis-server's command line.
	ExtraArgs []string
	// Password, when set, is required of every client (requirepass).
	Password string
	// TLS, when set, makes the server speak TLS only, on Port, with the
	// PKI's server certificate; a client certificate is optional (checked
	// against the CA when sent). Client and the readiness check trust the CA.
	TLS *PKI
}

// Redis is a private redis-server with persistence off: Stop/Start keeps
// the port, not the data.
type Redis struct {
	Addr string // 127.0.0.1:Port
	Port int
	Dir  string

	opt RedisOptions
	running
}

// running is the process of a server that Stop/Start may replace, and its
// clean-up: stopped by PID, its directory removed.
type running struct {
	mu   sync.Mutex
	proc *proc
}

func (r *running) set(p *proc) {
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
}

func (r *running) current() *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

func (r *running) stopAndRemove(dir string) {
	if p := r.current(); p != nil {
		_ = p.stop(stopGrace)
	}
	_ = os.RemoveAll(dir)
}

// StartRedis starts a new server (opt: at most one) and stops it, and
// removes its directory, when the test ends.
func StartRedis(t testing.TB, opt ...RedisOptions) *Redis {
	t.Helper()
	requireBinaries(t, "redis-server", "redis-server")
	dir, err := makeDir("redis")
	fatalIf(t, err)
	r := &Redis{Dir: dir}
	if len(opt) > 0 {
		r.opt = opt[0]
	}
	t.Cleanup(r.close)
	startOnFreePort(t, func(port int) error {
		r.Port, r.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
		return r.start()
	}, r.logFile)
	return r
}

// startOnFreePort starts a redis-server (or sentinel) on a free port, and on
// another one when a different process took the port in between (its log
// says "Address already in use"); at most three tries.
func startOnFreePort(t testing.TB, start func(port int) error, logFile func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		fatalIf(t, err)
		err = start(port)
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(tail(logFile(), 5), "Address already in use") {
			t.Fatal(err)
		}
	}
}

// servedBy checks that addr answers, as the redis process pid: a port taken
// by another server must not pass for ours. A plain dial first, because
// go-redis logs every refused dial.
func servedBy(ctx context.Context, c *redis.Client, addr string, pid int) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn.Close()
	info, err := c.InfoMap(ctx, "server").Result()
	if err != nil {
		return err
	}
	if got := info["Server"]["process_id"]; got != strconv.Itoa(pid) {
		return fmt.Errorf("%s is served by pid %s, not ours", addr, got)
	}
	return nil
}

func (r *Redis) logFile() string { return filepath.Join(r.Dir, "redis.log") }

// start runs redis-server and waits until it answers as this very process
// (a port taken by another server must not pass for ours).
func (r *Redis) start() error {
	bin, err := lookBinary("redis-server")
	if err != nil {
		return err
	}
	ports := []string{"--port", strconv.Itoa(r.Port)}
	if p := r.opt.TLS; p != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(r.Port),
			"--tls-cert-file", p.ServerCertFile, "--tls-key-file", p.ServerKeyFile,
			"--tls-ca-cert-file", p.CAFile, "--tls-auth-clients", "optional"}
	}
	cmd := exec.Command(bin, append(ports, "--bind", "127.0.0.1",
		"--dir", r.Dir, "--logfile", r.logFile(), "--daemonize", "no",
		"--save", "", "--appendonly", "no", "--notify-keyspace-events", r.opt.NotifyKeyspaceEvents)...)
	cmd.Args = append(cmd.Args, r.opt.ExtraArgs...)
	if r.opt.Password != "" {
		cmd.Args = append(cmd.Args, "--requirepass", r.opt.Password)
	}
	p, err := startProc(cmd, filepath.Join(r.Dir, "redis.out"))
	if err != nil {
		return err
	}
	r.set(p)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.opt.Password, MaxRetries: -1, TLSConfig: r.clientTLS()})
	defer c.Close()
	err = waitReady(p, func(ctx context.Context) error { return servedBy(ctx, c, r.Addr, p.pid()) })
	if err != nil {
		if !errors.Is(err, errExited) {
			p.kill()
		}
		return fmt.Errorf("testenv: redis-server on %s (dir %s): %w\n--- redis.log tail:\n%s\n--- stdout/stderr tail:\n%s",
			r.Addr, r.Dir, err, tail(r.logFile(), 20), tail(filepath.Join(r.Dir, "redis.out"), 10))
	}
	return nil
}

func (r *Redis) close() { r.stopAndRemove(r.Dir) }

// Client returns a go-redis client for this server, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.opt.Password, TLSConfig: r.clientTLS()})
	t.Cleanup(func() { c.Close() })
	return c
}

// clientTLS is nil for a plain server.
func (r *Redis) clientTLS() *tls.Config {
	if r.opt.TLS == nil {
		return nil
	}
	return r.opt.TLS.ClientTLS()
}

// PID is the server's process id.
func (r *Redis) PID() int { return r.current().pid() }

// Stop shuts the server down (SIGTERM) and waits for it to exit.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	fatalIf(t, r.current().stop(stopGrace))
}

// Start starts a stopped or killed server again on the same port, empty
// unless a SAVE left a dump.rdb in its directory, which it loads.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if p := r.current(); !p.exited() {
		t.Fatalf("testenv: redis-server %s is still running (pid %d)", r.Addr, p.pid())
	}
	fatalIf(t, r.start())
}

// Kill ends the server with SIGKILL.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	r.current().kill()
}
