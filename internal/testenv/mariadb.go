package testenv

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

//go:embed mariadb.cnf
var cnfTemplate string

//go:embed init.sql
var initSQL string

// MariaDBOptions tunes a server; the zero value is a ROW/FULL binlog primary.
type MariaDBOptions struct {
	ServerID    uint32   // default 1
	ExtraConfig []string // extra [mysqld] lines, e.g. "binlog_format=STATEMENT"
}

// MariaDB is a private mariadbd. Root has no password and is reachable on
// Addr (TCP) and Socket. Its binlog is on, ROW, FULL image, FULL metadata.
type MariaDB struct {
	Addr   string // 127.0.0.1:Port
	Port   int
	Dir    string // datadir is Dir/data, error log Dir/error.log
	Socket string

	cnf    string
	shared bool // owned by Main: tests may not stop it

	mu   sync.Mutex
	proc *proc

	dbSeq      atomic.Int64
	replicaSeq atomic.Uint32
}

// StartMariaDB installs and starts a new server and stops it, and removes
// its directory, when the test ends.
func StartMariaDB(t testing.TB, opt MariaDBOptions) *MariaDB {
	t.Helper()
	requireBinaries(t, "mariadb-server", "mariadbd", "mariadb-install-db")
	m, err := newMariaDB(opt)
	if m != nil {
		t.Cleanup(m.close)
	}
	fatalIf(t, err)
	return m
}

// newMariaDB creates the directory, installs the system tables and starts
// the server, retrying with another port if the one picked was taken.
// On error the returned *MariaDB (if any) still needs close.
func newMariaDB(opt MariaDBOptions) (*MariaDB, error) {
	if opt.ServerID == 0 {
		opt.ServerID = 1
	}
	dir, err := makeDir("mariadb")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: dir, Socket: filepath.Join(dir, "mysqld.sock"), cnf: filepath.Join(dir, "my.cnf")}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return m, err
	}
	for attempt := 1; ; attempt++ {
		if err = m.configure(opt); err != nil {
			return m, err
		}
		if attempt == 1 {
			if err = m.install(); err != nil {
				return m, err
			}
		}
		err = m.start()
		if err == nil || attempt == 3 || !strings.Contains(tail(m.errorLog(), 5), "Address already in use") {
			return m, err
		}
	}
}

// configure picks a free port and writes my.cnf from the shared template.
func (m *MariaDB) configure(opt MariaDBOptions) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("testenv: free port: %w", err)
	}
	m.Port, m.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("testenv: current user: %w", err)
	}
	cnf := strings.NewReplacer("@DIR@", m.Dir, "@PORT@", strconv.Itoa(port),
		"@SERVER_ID@", strconv.FormatUint(uint64(opt.ServerID), 10), "@USER@", u.Username).Replace(cnfTemplate)
	cnf += strings.Join(opt.ExtraConfig, "\n") + "\n"
	return os.WriteFile(m.cnf, []byte(cnf), 0o644)
}

func (m *MariaDB) errorLog() string { return filepath.Join(m.Dir, "error.log") }

// install runs mariadb-install-db; init.sql removes the anonymous accounts.
func (m *MariaDB) install() error {
	initFile := filepath.Join(m.Dir, "init.sql")
	if err := os.WriteFile(initFile, []byte(initSQL), 0o644); err != nil {
		return err
	}
	bin, err := lookBinary("mariadb-install-db")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--defaults-file="+m.cnf,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--extra-file="+initFile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: mariadb-install-db in %s: %v\n--- output tail:\n%s\n--- error.log tail:\n%s",
			m.Dir, err, lastLines(string(out), 10), tail(m.errorLog(), 20))
	}
	return nil
}

// start runs mariadbd and waits until root can log in over the private
// socket; mariadbd binds TCP before the socket, so TCP is up too.
func (m *MariaDB) start() error {
	bin, err := lookBinary("mariadbd")
	if err != nil {
		return err
	}
	p, err := startProc(exec.Command(bin, "--defaults-file="+m.cnf), filepath.Join(m.Dir, "mariadbd.out"))
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	err = waitReady(p, func(ctx context.Context) error {
		c, err := client.ConnectWithContext(ctx, m.Socket, "root", "", "", time.Second, withTimeouts(time.Second))
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		if !errors.Is(err, errExited) {
			p.kill()
		}
		return fmt.Errorf("testenv: mariadbd on %s (dir %s): %w\n--- error.log tail:\n%s\n--- stdout/stderr tail:\n%s",
			m.Addr, m.Dir, err, tail(m.errorLog(), 20), tail(filepath.Join(m.Dir, "mariadbd.out"), 10))
	}
	return nil
}

// close stops the server and removes its directory.
func (m *MariaDB) close() {
	if p := m.current(); p != nil {
		_ = p.stop(stopGrace)
	}
	_ = os.RemoveAll(m.Dir)
}

func (m *MariaDB) current() *proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// PID is the server's process id (0 before the first start).
func (m *MariaDB) PID() int {
	if p := m.current(); p != nil {
		return p.pid()
	}
	return 0
}

// Running reports whether the server process is alive (paused counts).
func (m *MariaDB) Running() bool {
	p := m.current()
	return p != nil && !p.exited()
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
func (m *MariaDB) Stop(t testing.TB) {
	t.Helper()
	m.notShared(t, "Stop")
	fatalIf(t, m.current().stop(stopGrace))
}

// Start starts a stopped or killed server again: same port, same datadir.
func (m *MariaDB) Start(t testing.TB) {
	t.Helper()
	m.notShared(t, "Start")
	if m.Running() {
		t.Fatalf("testenv: mariadbd %s is still running (pid %d)", m.Addr, m.PID())
	}
	fatalIf(t, m.start())
}

// Kill ends the server with SIGKILL, like a crash; Start recovers it.
func (m *MariaDB) Kill(t testing.TB) {
	t.Helper()
	m.notShared(t, "Kill")
	m.current().kill()
}

// Pause freezes the server (SIGSTOP): connections stay open, nothing answers.
func (m *MariaDB) Pause(t testing.TB) {
	t.Helper()
	m.notShared(t, "Pause")
	fatalIf(t, m.current().signal(syscall.SIGSTOP))
}

// Resume continues a paused server (SIGCONT).
func (m *MariaDB) Resume(t testing.TB) {
	t.Helper()
	m.notShared(t, "Resume")
	fatalIf(t, m.current().signal(syscall.SIGCONT))
}

func (m *MariaDB) notShared(t testing.TB, what string) {
	t.Helper()
	if m.shared {
		t.Fatalf("testenv: %s on the shared MariaDB would break other tests; use StartMariaDB for a server of your own", what)
	}
}
