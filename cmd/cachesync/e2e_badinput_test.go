package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of bad input: each ends the process with a non-zero exit
// and one message naming the thing and the fix, and leaks no secret.

// exitLimit bounds how long a refused start may take: long enough for a
// few reconnects, short of what "retrying forever" would look like.
const exitLimit = 60 * time.Second

// Config files that cannot be used, checked offline and by run.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"malformed_yaml", "source: {addr: 127.0.0.1:3306, user: root\nrules: [\n",
			[]string{"bad.yaml:", "invalid YAML", "quote"}},
		{"unknown_key", "source: {user: root}\nredis:\n  addrs: [127.0.0.1:6379]\n  dbb: 0\nrules:\n  - table: a.b\n    keys: [\"x:{id}\"]\n",
			[]string{"bad.yaml:4:", "redis.dbb", "unknown key", `did you mean "db"`}},
		{"template_filter_syntax", "source: {user: root}\nrules:\n  - table: a.b\n    keys: [\"x:{id}\", \"x:{id|upper}\"]\n",
			[]string{"bad.yaml:4:", "rules[0].keys[1]", "x:{id|upper}", "character"}},
		{"template_unclosed", "source: {user: root}\nrules:\n  - table: a.b\n    keys:\n      - \"y:{id\"\n",
			[]string{"bad.yaml:5:", "rules[0].keys[0]", `"{" is not closed`, "{{"}},
		{"unset_variable", "source: {user: root, password: \"${CACHESYNC_TEST_UNSET_VAR}\"}\nrules:\n  - table: a.b\n    keys: [\"x:{id}\"]\n",
			[]string{"bad.yaml:1:", "CACHESYNC_TEST_UNSET_VAR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name, "bad.yaml")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			wantFailure(t, runCLI(t, exitLimit, nil, "config", "check", "--config", path), c.want)
			r := runCLI(t, exitLimit, nil, "run", "--config", path)
			wantFailure(t, r, c.want)
			if strings.Contains(r.stderr, `"level"`) {
				t.Errorf("run logged (started) before reporting the config problem:\n%v", r)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		path := filepath.Join(dir, "ok.yaml")
		if err := os.WriteFile(path, []byte("source: {user: root}\nrules:\n  - table: a.b\n    keys: [\"x:{id}\"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, exitLimit, nil, "config", "check", "--config", path)
		if r.code != 0 || !strings.Contains(r.stdout, "ok") {
			t.Fatalf("a valid config fails the offline check:\n%v", r)
		}
	})
}

// config check --online checks each rule against the live schema.
func TestConfigCheckOnline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	r := runCLI(t, exitLimit, nil, "config", "check", "--config", e.cfg, "--online")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("online check of a good config failed:\n%v", r)
	}
	e.editConfig(`"user:email:{email}"]`, `"user:email:{email}", "user:mail:{mail}"]`)
	r = runCLI(t, exitLimit, nil, "config", "check", "--config", e.cfg, "--online")
	wantFailure(t, r, []string{e.name + ".users", "user:mail:{mail}", `column "mail"`})
}

// A rule naming a column (or a table) the source does not have is a startup
// error of run too (DESIGN: "Unknown columns are startup errors naming the
// rule, the template and the column"; "unknown table" gets a clear message),
// not a stream that silently skips those keys.
func TestRunRefusesRuleNotInSchema(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, rules string }{
		{"unknown_column", "  - table: DB.users\n    keys: [\"user:{id}\", \"user:mail:{mail}\"]\n"},
		{"unknown_table", "  - table: DB.users\n    keys: [\"user:{id}\"]\n  - table: DB.userz\n    keys: [\"userz:{id}\"]\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, c.rules, "")
			want := map[string][]string{
				"unknown_column": {e.name + ".users", "user:mail:{mail}", `"mail"`},
				"unknown_table":  {e.name + ".userz", "no such table"},
			}[c.name]
			// config check --online already finds it; run must not start past it.
			wantFailure(t, runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg), want)
			if c.name == "unknown_table" {
				// A table may be created after cachesync starts (a later
				// migration): run warns, naming the rule, and streams.
				p := e.start()
				if out := p.out.String(); !strings.Contains(out, "no such table") || !strings.Contains(out, e.name+".userz") {
					t.Fatalf("run gave no warning naming the missing table:\n%s", out)
				}
				p.stop(t)
				return
			}
			p := e.startNoWait()
			if e.waitExitOrLog(p, "starting at the primary's current position", "resuming from checkpoint") {
				t.Fatalf("run started streaming with a rule the schema does not satisfy; want a startup error naming %q:\n%s", want, p.out.String())
			}
			wantFailure(t, p.result(), want)
		})
	}
}

// The wrong password: access denied, naming the user and the setting, and
// the password appears nowhere; the right one streams without logging it.
func TestRunWrongPassword(t *testing.T) {
	t.Parallel()
	const right, wrong = "Rt-9f2c-CORRECT-pw!", "Wr-7d1e-DISTINCT-pw!"
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	user := "cs_" + strings.TrimPrefix(e.name, "t_")
	db.CreateUser(t, user, right, "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `"+e.name+"`.*")
	e.editConfig("user: root,", "user: "+user+", password: \"${CS_TEST_PW}\",")

	for _, args := range [][]string{{"run", "--config", e.cfg}, {"config", "check", "--online", "--config", e.cfg}} {
		r := runCLI(t, exitLimit, []string{"CS_TEST_PW=" + wrong}, args...)
		wantFailure(t, r, []string{"access denied", user, "source.password"}, wrong, right)
	}

	p := e.startEnv("CS_TEST_PW=" + right)
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if strings.Contains(p.out.String(), right) {
		t.Fatalf("the password appears in the log:\n%s", p.out.String())
	}
}

// binlog_format=STATEMENT and binlog_row_image=MINIMAL are both reported at
// once, each naming the setting and the value cachesync needs.
func TestRunRefusesServerSettings(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"binlog_format=STATEMENT", "binlog_row_image=MINIMAL"}})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	for _, args := range [][]string{{"run", "--config", e.cfg}, {"config", "check", "--online", "--config", e.cfg}} {
		r := runCLI(t, exitLimit, nil, args...)
		wantFailure(t, r, []string{"binlog_format is STATEMENT", "ROW", "binlog_row_image is MINIMAL", "FULL", "my.cnf"})
	}
	db.Exec(t, "SET GLOBAL binlog_format = 'ROW'")
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, []string{"binlog_row_image is MINIMAL", "FULL"}, "binlog_format is")
	db.Exec(t, "SET GLOBAL binlog_row_image = 'FULL'")
	p := e.start()
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d once the settings are right", code)
	}
}

var serverIDLine = regexp.MustCompile(`server_id: \d+`)

// source.server_id equal to the primary's own server_id.
func TestRunRefusesPrimaryServerID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig(serverIDLine.FindString(e.config()), "server_id: 1") // testenv's primary is server_id 1
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, []string{"source.server_id 1", "primary's own server_id", "unique"})
}

// A user without the replication privileges is refused at start, naming the
// privilege to grant.
func TestRunRefusesMissingReplicationPrivileges(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	base := "cs_" + strings.TrimPrefix(e.name, "t_")
	for _, c := range []struct {
		suffix string
		grants []string
		want   []string
	}{
		{"_sel", []string{"SELECT ON `" + e.name + "`.*"}, []string{"REPLICATION SLAVE", "REPLICATION CLIENT", "GRANT"}},
		{"_slv", []string{"REPLICATION SLAVE ON *.*", "SELECT ON `" + e.name + "`.*"}, []string{"REPLICATION CLIENT", "BINLOG MONITOR", "GRANT"}},
	} {
		user := base + c.suffix
		db.CreateUser(t, user, "pw", c.grants...)
		e.editConfig(serverUser.FindString(e.config()), "user: "+user+", password_file: "+e.passwordFile("pw")+",")
		r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
		wantFailure(t, r, append(c.want, user))
	}
}

var serverUser = regexp.MustCompile(`user: [^,]+,( password_file: [^,]+,)?`)

// A user with the replication privileges but no SELECT on the mapped table
// cannot read its schema, so it cannot decode its rows. The README promises
// this is checked at start; it must not stream and skip the table's keys.
func TestRunRefusesMissingSelectPrivilege(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	user := "cs_" + strings.TrimPrefix(e.name, "t_")
	db.CreateUser(t, user, "pw", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*")
	e.editConfig("user: root,", "user: "+user+", password_file: "+e.passwordFile("pw")+",")
	p := e.startNoWait()
	if e.waitExitOrLog(p, "starting at the primary's current position", "resuming from checkpoint") {
		e.setKeys("user:1")
		e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
		if !e.waitExit(p, 30*time.Second) {
			t.Fatalf("started without SELECT on %s.users and kept running after a row change (key user:1 still cached: %v):\n%s",
				e.name, len(e.exists("user:1")) == 1, p.out.String())
		}
	}
	wantFailure(t, p.result(), []string{user, "SELECT", e.name})
}

// A corrupt checkpoint is a startup error naming the file; cachesync never
// silently starts from the current position, and leaves the file alone.
func TestRunRefusesCorruptCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	for _, c := range []struct{ name, raw string }{
		{"truncated", `{"version":1,"file":"binlog.0`},
		{"empty", ""},
		{"wrong_version", `{"version":7,"file":"binlog.000001","pos":4}`},
		{"no_position", `{"version":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := e.t
			e.t = t // the helpers report to the subtest
			defer func() { e.t = parent }()
			e.writeCheckpoint(c.raw)
			r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
			wantFailure(t, r, []string{e.checkpointPath()}, "starting at the primary's current position")
			if got, _ := os.ReadFile(e.checkpointPath()); string(got) != c.raw {
				t.Errorf("the corrupt checkpoint was overwritten with %q", got)
			}
		})
	}
}

// A checkpoint naming binlog the server does not have: a non-zero exit, and
// a message with the position and the ways out.
func TestRunRefusesCheckpointPositionGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	const raw = `{"version":1,"file":"binlog.000099","pos":4}` + "\n"
	e.writeCheckpoint(raw)
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	// No "reconnecting" either: the exit is fatal, there is no reconnect.
	wantFailure(t, r, []string{"binlog.000099:4", "no longer has", "backfill", "delete the checkpoint", "restore"},
		"starting at the primary's current position", "reconnecting")
	if got, _ := e.readCheckpoint(); got != (binPos{File: "binlog.000099", Pos: 4}) {
		t.Errorf("the checkpoint was moved to %v", got)
	}
}

// A GTID checkpoint the server has never reached (a failover to a replica
// that lagged): the same refusal, with the failover named.
func TestRunRefusesGTIDCheckpointAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
	e.writeCheckpoint(`{"version":1,"file":"binlog.000001","pos":4,"gtid":"0-1-999999999"}` + "\n")
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, []string{"0-1-999999999", "failover to a replica", "backfill"}, "starting at the primary's current position")
}

// The same with binlog that really was purged, on a server of the test's own.
func TestRunRefusesPurgedBinlog(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	p := e.start()
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(10*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	cp, _ := e.readCheckpoint()
	db.Exec(t, "FLUSH BINARY LOGS")
	file, _ := db.MasterStatus(t)
	// A dump thread of the stopped process may hold the old file for a
	// moment (the server notices the disconnect late): purge until it is gone.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		db.Exec(t, "PURGE BINARY LOGS TO '"+file+"'")
		first, _ := db.Exec(t, "SHOW BINARY LOGS").GetString(0, 0)
		if first > cp.File {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PURGE BINARY LOGS TO %s left %s on the server", file, first)
		}
	}
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, []string{cp.String(), "no longer has", "backfill", "restore"})
	if got, _ := e.readCheckpoint(); got != cp {
		t.Errorf("the checkpoint was moved from %v to %v", cp, got)
	}
}

// config returns the current config text.
func (e *env) config() string {
	e.t.Helper()
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw)
}

// waitExitOrLog waits (bounded) until the process exits (false) or logs one
// of logs (true).
func (e *env) waitExitOrLog(p *proc, logs ...string) bool {
	e.t.Helper()
	deadline := time.Now().Add(exitLimit)
	for time.Now().Before(deadline) {
		for _, s := range logs {
			if strings.Contains(p.out.String(), s) {
				return true
			}
		}
		select {
		case <-p.done:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.t.Fatalf("cachesync neither exited nor logged %q within %v:\n%s", logs, exitLimit, p.out.String())
	return false
}

// waitExit reports whether the process exits within limit.
func (e *env) waitExit(p *proc, limit time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// result is the finished process as a cliResult (stdout and stderr merged).
func (p *proc) result() cliResult {
	<-p.done
	return cliResult{code: p.cmd.ProcessState.ExitCode(), stderr: p.out.String()}
}

// source.on_gap: backfill: the checkpoint's binlog is gone, so every key of
// every mapped row is invalidated by scanning (a table without a primary key
// too, in one query), and streaming goes on from the position recorded
// before the scan.
func TestRunOnGapBackfill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, "CREATE TABLE DB.visits (user_id INT, page VARCHAR(20))"},
		usersRules+"  - table: DB.visits\n    keys: [\"visits:{user_id}\"]\n", "")
	e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, on_gap: backfill}")
	e.seedUsers(300)
	e.exec("INSERT INTO DB.visits VALUES (1, 'a'), (2, 'b'), (2, 'c')") // no primary key: read in one query
	e.setKeys(userKeysOf(seq(1, 300)...)...)
	e.setKeys("visits:1", "visits:2")
	e.writeCheckpoint(`{"version":1,"file":"binlog.000099","pos":4}` + "\n")
	p := e.startNoWait()
	e.waitLog(p, "binlog gap covered")
	e.waitGone(10*time.Second, userKeysOf(seq(1, 300)...)...)
	e.waitGone(10*time.Second, "visits:1", "visits:2")
	e.waitLog(p, "resuming from checkpoint")
	e.setKeys("user:7")
	e.exec("UPDATE DB.users SET name = 'after' WHERE id = 7")
	e.waitGone(10*time.Second, "user:7")
	deadline := time.Now().Add(10 * time.Second)
	for cp, _ := e.readCheckpoint(); cp.File == "binlog.000099"; cp, _ = e.readCheckpoint() {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint still points into the gone binlog")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.out.String())
	}
}

// config check (offline too) prints the valid but unsafe settings run would
// warn of at start, and still passes.
func TestConfigCheckPrintsWarnings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 0s}")
	e.editConfig("redis: {addrs: [", "redis: {tls: {insecure_skip_verify: true}, addrs: [")
	e.editConfig("watch: [id, email, name]", "watch: [email, name]")
	r := runCLI(t, exitLimit, nil, "config", "check", "--config", e.cfg)
	if r.code != 0 {
		t.Fatalf("unsafe but valid settings failed the check:\n%v", r)
	}
	for _, want := range []string{"warning: redis.tls.insecure_skip_verify is true", "warning: source.heartbeat_period and source.read_timeout are both 0",
		`uses column "id", which is not in watch`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config check does not print %q:\n%v", want, r)
		}
	}
}

// A checkpoint inside an event (hand-edited, or a position from another
// tool) is not "purged": the message says what it is and how to get a
// valid one, and the checkpoint is left as it was.
func TestRunRefusesCheckpointInsideEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	file, end := e.db.MasterStatus(t)
	inside := end - 7 // inside the last event written, wherever it began
	e.writeCheckpoint(fmt.Sprintf(`{"version":1,"file":%q,"pos":%d}`+"\n", file, inside))
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	at := fmt.Sprintf("%s:%d", file, inside)
	wantFailure(t, r, []string{at, "not the start of an event", "SHOW BINLOG EVENTS"},
		"purged", "no longer has", "starting at the primary's current position", "reconnecting")
	if got, _ := e.readCheckpoint(); got != (binPos{File: file, Pos: inside}) {
		t.Errorf("the checkpoint was moved to %v", got)
	}
}
