package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one server process we started. Every signal goes to its PID.
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
	mu     sync.Mutex
	paused bool
}

// startProc starts cmd with its output appended to logPath.
func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child holds its own copy
	cmd.Stdout, cmd.Stderr = out, out
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("pid %d has already exited (%v)", p.pid(), p.err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to pid %d: %w", sig, p.pid(), err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT, syscall.SIGKILL:
		p.paused = false
	}
	return nil
}

// stop sends SIGTERM (after SIGCONT, in case the process is paused) and
// waits; after grace it sends SIGKILL. It is a no-op for an exited process.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.signal(syscall.SIGCONT)
	if err := p.signal(syscall.SIGTERM); err != nil && !p.exited() {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	p.kill()
	return fmt.Errorf("pid %d ignored SIGTERM for %v and was killed", p.pid(), grace)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.signal(syscall.SIGKILL)
	<-p.done
}

// spawn starts cmd from one OS thread that lives as long as the test binary.
// On Linux the child gets a parent-death signal (see sysProcAttr), which the
// kernel sends when the *thread* that forked it exits; pinning the forks to
// a thread that never exits makes that mean "when the test binary dies", so
// a panic or a `go test` timeout leaves no server behind.
func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked, on purpose
			for r := range spawner.reqs {
				r.cmd.SysProcAttr = sysProcAttr()
				r.errc <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, errc: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.errc
}

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// spawner is process-wide by nature: it is the one thread all servers are
// forked from (see spawn).
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

// tail returns the last n lines of the file at path, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errExited is returned by waitReady when the server died while starting.
var errExited = errors.New("server exited while starting")
