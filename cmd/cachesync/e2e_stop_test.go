package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
)

// Exit codes and log lines around a stop: a graceful stop is exit 0 and
// quiet, a fatal one says its error once, and readiness is one line per
// change of state.

// sigterm sends SIGTERM and waits (bounded) for the exit; it returns the code.
func (p *proc) sigterm(t *testing.T, limit time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("cachesync did not exit within %v of SIGTERM:\n%.5000s", limit, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

var errorLine = regexp.MustCompile(`(?m)^\{"level":"error".*$`)

// noCanceledErrors fails the test for an ERROR-level line, or a final
// error, about a context being canceled: a stop asked for is not a failure.
func noCanceledErrors(t *testing.T, out string) {
	t.Helper()
	for _, l := range errorLine.FindAllString(out, -1) {
		if strings.Contains(l, "context canceled") {
			t.Errorf("an ERROR line of a graceful stop: %s", l)
		}
	}
	if strings.Contains(out, "cachesync: context canceled") {
		t.Errorf("the graceful stop ended with the error context canceled:\n%.3000s", out)
	}
}

// SIGTERM while run waits for a Kafka that does not answer yet is a
// graceful stop: exit 0, as the README promises.
func TestStopWhileWaitingForKafkaExitsZero(t *testing.T) {
	t.Parallel()
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true}
`, freeAddr(t), kafkaTopic)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, transport)
	for _, role := range []string{pipeline.RoleAll, pipeline.RoleTailer, pipeline.RoleConsumer} {
		p := e.spawn(execRun(e.cfg, "--role", role))
		e.waitLog(p, "kafka does not answer yet; waiting for it")
		if code := p.sigterm(t, 30*time.Second); code != 0 {
			t.Errorf("--role %s: exit %d after SIGTERM while waiting for kafka, want 0:\n%.3000s", role, code, p.out.String())
		}
		noCanceledErrors(t, p.out.String())
	}
}

// A graceful stop of a pipeline at work logs no ERROR line.
func TestGracefulStopLogsNoErrors(t *testing.T) {
	t.Parallel()
	for _, kafka := range []bool{false, true} {
		t.Run(fmt.Sprintf("kafka=%v", kafka), func(t *testing.T) {
			t.Parallel()
			var e *env
			if kafka {
				e, _ = newKafkaEnv(t, 2, "")
			} else {
				e = newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
			}
			p := e.start()
			e.setKeys("user:1")
			e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
			e.waitGone(20*time.Second, "user:1")
			if code := p.sigterm(t, 30*time.Second); code != 0 {
				t.Fatalf("exit %d:\n%.3000s", code, p.out.String())
			}
			out := p.out.String()
			noCanceledErrors(t, out)
			if l := errorLine.FindString(out); l != "" {
				t.Errorf("ERROR line during a graceful stop: %s", l)
			}
		})
	}
}

// A fatal exit does not first claim the binlog is ready, and says its
// error once.
func TestFatalExitSaysItOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.writeCheckpoint(`{"version":1,"file":"binlog.000099","pos":4}` + "\n")
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, []string{"binlog.000099:4"})
	if strings.Contains(r.stderr, `"msg":"ready: binlog"`) {
		t.Errorf("logged ready: binlog before a fatal exit:\n%.3000s", r.stderr)
	}

	const right, wrong = "Rt-1a2b-CORRECT-pw!", "Wr-3c4d-WRONG-pw!"
	user := "cs_once_" + strings.TrimPrefix(e.name, "t_")
	e.db.CreateUser(t, user, right, "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `"+e.name+"`.*")
	e.editConfig("user: root,", "user: "+user+", password: \"${CS_TEST_PW}\",")
	for _, args := range [][]string{{"run", "--config", e.cfg}, {"config", "check", "--online", "--config", e.cfg}} {
		r = runCLI(t, exitLimit, []string{"CS_TEST_PW=" + wrong}, args...)
		wantFailure(t, r, []string{"access denied"})
		if n := strings.Count(r.stdout+r.stderr, "refused user"); n != 1 {
			t.Errorf("%v: the access-denied error appears %d times, want once:\n%v", args, n, r)
		}
	}
}

// During an outage a part's readiness is one "not ready" line, not one per
// retry: here the checkpoint's directory disappears, so every save fails
// (with a new temp file name each time). SIGTERM then ends the process
// without waiting out retries of a save that cannot succeed, and says so.
func TestCheckpointOutageIsOneLineAndStopIsPrompt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	dir := filepath.Join(e.dir, "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e.editConfig(filepath.Join(e.dir, "cachesync.pos"), filepath.Join(dir, "cachesync.pos"))
	p := e.start()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		e.exec("INSERT INTO DB.users (id, email) VALUES (?, 'a@x.io')", i)
		time.Sleep(400 * time.Millisecond) // several save attempts, each failing
	}
	e.waitLog(p, "checkpoint save failed")
	if n := strings.Count(p.out.String(), `"msg":"not ready: checkpoint"`); n != 1 {
		t.Errorf(`%d "not ready: checkpoint" lines during one outage, want 1:\n%.5000s`, n, p.out.String())
	}
	code := p.sigterm(t, 30*time.Second)
	if code == 0 {
		t.Errorf("exit 0 with the checkpoint unsaved")
	}
	out := p.out.String()
	if strings.Contains(out, "context deadline exceeded") || !strings.Contains(out, "no such file or directory") {
		t.Errorf("the stop waited out retries of the final save instead of reporting why it failed:\n%.5000s", out)
	}
}

// execRun is `cachesync run --config cfg args...`, to spawn.
func execRun(cfg string, args ...string) *exec.Cmd {
	return exec.Command(binPath, append([]string{"run", "--config", cfg}, args...)...)
}

// newRefusingKafkaEnv is an env on the shared MariaDB whose transport is a
// one-partition topic on a broker that acknowledges no produce request once
// the returned flag is set, with shutdown.timeout 2s; kafka holds further
// transport.kafka settings ("commit_interval: 50ms").
func newRefusingKafkaEnv(t *testing.T, kafka string) (*env, *atomic.Bool) {
	t.Helper()
	c := testenv.StartKafkaCluster(t)
	refuse := new(atomic.Bool)
	testenv.RefuseProduce(c, refuse, new(atomic.Int64))
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 1, %s}
shutdown: {timeout: 2s}
`, c.ListenAddrs()[0], kafkaTopic, kafka)
	return newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, transport), refuse
}

// SIGTERM while the tailer is held back (Kafka acknowledges nothing, the
// publisher's budget is full) interrupts a send: go-mysql must not report
// that as an ERROR, since the stop was asked for.
func TestStopWhileHeldBackLogsNoCanceledErrors(t *testing.T) {
	t.Parallel()
	e, refuse := newRefusingKafkaEnv(t, "batch_size: 1, max_in_flight: 1")
	p := e.startKafkaRole(pipeline.RoleTailer)
	refuse.Store(true)
	for i := 1; i <= 3; i++ {
		e.exec("INSERT INTO DB.users (id, email) VALUES (?, 'a@x.io')", i)
	}
	e.waitLog(p, "kafka did not acknowledge messages; retrying them")
	time.Sleep(200 * time.Millisecond) // the next send waits for the budget
	p.sigterm(t, 30*time.Second)
	noCanceledErrors(t, p.out.String())
}
