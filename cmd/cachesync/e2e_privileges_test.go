package main

import (
	"strings"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

// config check --online warns of privileges the source user has beyond what
// cachesync needs, naming each and its REVOKE, and still exits 0: a
// least-privilege user gets no warning at all.
func TestConfigCheckOnlineExtraPrivileges(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	base := "cs_" + strings.TrimPrefix(e.name, "t_")
	current := "user: root,"
	for _, c := range []struct {
		suffix   string
		grants   []string
		want     []string
		unwanted []string
		warnings int // one per extra privilege
	}{
		{"_least", []string{"REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `" + e.name + "`.*"},
			nil, []string{"warning", "REVOKE"}, 0},
		{"_extra", []string{"REPLICATION SLAVE, REPLICATION CLIENT, SUPER, INSERT ON *.*", "SELECT ON `" + e.name + "`.*"},
			[]string{"warning: source user `" + base + "_extra`@", "SUPER ON *.*", "REVOKE SUPER ON *.* FROM `" + base + "_extra`@", "INSERT ON *.*", "REVOKE INSERT ON *.*"},
			[]string{"REPLICATION SLAVE ON", "BINLOG MONITOR ON", "SELECT ON"}, 2},
	} {
		user := base + c.suffix
		db.CreateUser(t, user, "pw", c.grants...)
		next := "user: " + user + ", password_file: " + e.passwordFile("pw") + ","
		e.editConfig(current, next)
		current = next
		r := runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg)
		if r.code != 0 || !strings.Contains(r.stdout, "ok") {
			t.Fatalf("%s: extra privileges must not fail the check:\n%v", user, r)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: output does not name %q:\n%v", user, w, r)
			}
		}
		for _, u := range c.unwanted {
			if strings.Contains(r.stdout+r.stderr, u) {
				t.Errorf("%s: output names %q:\n%v", user, u, r)
			}
		}
		if n := strings.Count(r.stdout, "warning:"); n != c.warnings {
			t.Errorf("%s: %d warnings, want %d (one per extra privilege):\n%v", user, n, c.warnings, r)
		}
	}
}

// A privilege held through a role (granted to the user, or to a role it
// has) is reported like a direct one, naming the role and the REVOKE on it.
func TestConfigCheckOnlineExtraPrivilegesThroughRoles(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	user := "cs_" + strings.TrimPrefix(e.name, "t_") + "_r"
	outer, inner := user+"_outer", user+"_inner"
	db.Exec(t, "CREATE ROLE `"+inner+"`")
	db.Exec(t, "GRANT PROCESS ON *.* TO `"+inner+"`")
	db.Exec(t, "CREATE ROLE `"+outer+"`")
	db.Exec(t, "GRANT INSERT ON `"+e.name+"`.* TO `"+outer+"`")
	db.Exec(t, "GRANT `"+inner+"` TO `"+outer+"`")
	db.CreateUser(t, user, "pw", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `"+e.name+"`.*", "`"+outer+"`")
	e.editConfig("user: root,", "user: "+user+", password_file: "+e.passwordFile("pw")+",")
	r := runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg)
	if r.code != 0 {
		t.Fatalf("extra privileges must not fail the check:\n%v", r)
	}
	for _, want := range []string{
		"warning: role `" + outer + "`, granted to the source user, has INSERT ON `" + e.name + "`.*",
		"REVOKE INSERT ON `" + e.name + "`.* FROM `" + outer + "`",
		"warning: role `" + inner + "`, granted to the source user, has PROCESS ON *.*",
		"REVOKE PROCESS ON *.* FROM `" + inner + "`",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output does not say %q:\n%v", want, r)
		}
	}
	if strings.Contains(r.stdout, "note:") {
		t.Errorf("the roles' grants were readable, yet a note says otherwise:\n%v", r)
	}
	if n := strings.Count(r.stdout, "warning:"); n != 2 {
		t.Errorf("%d warnings, want 2 (one per extra privilege):\n%v", n, r)
	}
}
