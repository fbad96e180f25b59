package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// readyz returns /readyz's status code and body.
func (e *env) readyz(p *proc) (int, string) {
	e.t.Helper()
	code, body := e.get(p, "/readyz")
	return code, string(body)
}

// waitReadyz polls /readyz (bounded) until it answers code with a body
// containing want.
func (e *env) waitReadyz(p *proc, limit time.Duration, code int, want string) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got, body := e.readyz(p)
		if got == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("/readyz answers %d %q after %v, want %d with %q", got, body, limit, code, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// /readyz is ready once streaming, fails while invalidations wait on a
// Redis that is down for longer than http.stall_after, and recovers.
func TestReadyzStallAndRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	e.editConfig(`http: {addr: "127.0.0.1:`, `http: {stall_after: 2s, addr: "127.0.0.1:`)
	p := e.start()
	e.waitReadyz(p, 10*time.Second, 200, "ready")
	if v := e.metric(p, "cachesync_ready"); v != 1 {
		t.Errorf("cachesync_ready = %v while /readyz says ready", v)
	}
	addr := e.httpAddr(p)
	if r := runCLI(t, exitLimit, nil, "ready", "--addr", addr); r.code != 0 || r.stdout != "ready\n" {
		t.Errorf("cachesync ready while ready:\n%v", r)
	}
	e.redis.Stop(t)
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitReadyz(p, 20*time.Second, 503, "invalidations: 1 waiting and nothing finished")
	if v := e.metric(p, "cachesync_ready"); v != 0 {
		t.Errorf("cachesync_ready = %v while stalled", v)
	}
	wantFailure(t, runCLI(t, exitLimit, nil, "ready", "--addr", addr), []string{"not ready", "invalidations: 1 waiting"})
	e.redis.Start(t)
	e.waitReadyz(p, 30*time.Second, 200, "ready")
	if !p.logHas(`"msg":"not ready: invalidations"`, `"msg":"ready: invalidations"`) {
		t.Errorf("the state changes are not logged:\n%s", p.out.String())
	}
}

// The retention headroom is measured against the server's binlog files: a
// new binlog file (FLUSH BINARY LOGS) is one more file of headroom once the
// checkpoint has moved into it. A retention under a day is warned of.
func TestRetentionHeadroomMetricAndWarnings(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{}) // its own binlog files and settings
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	// A short binlog retention is warned of, by config check and at start.
	db.Exec(t, "SET GLOBAL binlog_expire_logs_seconds = 7200")
	const short = "keeps its binlogs only 2h0m0s (binlog_expire_logs_seconds)"
	if r := runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg); r.code != 0 || !strings.Contains(r.stdout, "warning: source "+db.Addr+" "+short) {
		t.Errorf("config check --online does not warn of a 2 h binlog retention:\n%v", r)
	}
	p := e.start()
	if !p.logHas(short) {
		t.Errorf("run does not warn of a 2 h binlog retention at start:\n%s", p.out.String())
	}
	// A fresh server has one binlog file: the checkpoint is in the oldest.
	e.waitLog(p, "binlog retention headroom is zero")
	before := e.metric(p, "cachesync_binlog_retention_headroom_files")
	e.exec("FLUSH BINARY LOGS")
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	// The watcher looks every 30 s; the first look after the move decides.
	e.waitMetric(p, 45*time.Second, "cachesync_binlog_retention_headroom_files", before+1)
	if v := e.metric(p, "cachesync_binlog_retention_headroom_bytes"); v <= 0 {
		t.Errorf("headroom bytes = %v with older files on the server", v)
	}
}

// Reading changes committed seconds ago (cachesync was stopped) pushes the
// replication lag past source.lag_warning: one warning, then one line when
// fresh changes bring it back.
func TestLagWarningAfterCatchingUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, lag_warning: 2s}")
	p := e.start()
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'u1@x.io')")
	time.Sleep(4 * time.Second) // the change is now 4 s old (the binlog's clock has 1 s steps)
	p = e.start()
	e.waitLog(p, "replication lag is above source.lag_warning")
	for i := 2; i < 100 && !p.logHas("replication lag is back under"); i++ {
		e.exec("INSERT INTO DB.users (id, email) VALUES (?, ?)", i, "x")
		time.Sleep(300 * time.Millisecond)
	}
	e.waitLog(p, "replication lag is back under")
	// One line per change of state is TestLagWatchLogsStateChangesOnly's:
	// here a loaded machine may really fall behind again.
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// A checkpoint that cannot be saved (its directory is gone) fails /readyz
// while invalidations go on, and /readyz recovers once a save succeeds.
func TestReadyzCheckpointNotSaved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.enableMetrics()
	cpDir := filepath.Join(e.dir, "cp")
	if err := os.Mkdir(cpDir, 0o700); err != nil {
		t.Fatal(err)
	}
	e.editConfig("path: "+e.checkpointPath()+"}", "path: "+filepath.Join(cpDir, "cachesync.pos")+"}")
	p := e.start()
	e.waitReadyz(p, 10*time.Second, 200, "ready")

	if err := os.Rename(cpDir, cpDir+".away"); err != nil {
		t.Fatal(err)
	}
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'u1@x.io')")
	e.waitGone(10*time.Second, "user:1") // deleting goes on
	e.waitReadyz(p, 20*time.Second, 503, "checkpoint: cannot save the checkpoint")
	if err := os.Rename(cpDir+".away", cpDir); err != nil {
		t.Fatal(err)
	}
	e.waitReadyz(p, 20*time.Second, 200, "ready")
	if n := strings.Count(p.out.String(), "checkpoint save failed"); n < 1 || n > 3 {
		t.Errorf("%d 'checkpoint save failed' lines, want a few, not one per attempt:\n%s", n, p.out.String())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// `cachesync ready` with nothing listening says so and fails; bad flags are
// usage errors.
func TestReadyCommandNoAnswer(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	wantFailure(t, runCLI(t, exitLimit, nil, "ready", "--addr", addr), []string{"no answer from cachesync at " + addr})
	if r := runCLI(t, exitLimit, nil, "ready", "--bogus"); r.code != 2 {
		t.Errorf("a bad flag: want exit 2:\n%v", r)
	}
}
