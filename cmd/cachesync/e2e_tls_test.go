package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// cachesync run against a MariaDB whose account REQUIRE SSL (so the
// preflight, the schema check and the binlog stream all must use
// source.tls) and a Redis that speaks only TLS: rows changed are
// invalidated, and redis.tls.insecure_skip_verify is warned about at start.
// The write-behind flusher's dialer is checked against such a server in
// pipeline (TestFlusherDialerTLS).
func TestRunTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: pki.MariaDBConfig()})
	db.CreateUser(t, "tls_user", "tls-pw", "ALL PRIVILEGES ON *.*")
	db.RequireSSL(t, "tls_user")
	e := newEnvRedis(t, db, []string{usersSchema}, usersRules, "", testenv.RedisOptions{TLS: pki})
	rewriteConfig(t, e.cfg,
		"user: root,", "user: tls_user, password_file: "+e.passwordFile("tls-pw")+", tls: {ca_file: "+pki.CAFile+"},",
		"redis: {addrs: ["+e.redis.Addr+"]}", "redis: {addrs: ["+e.redis.Addr+"], tls: {insecure_skip_verify: true}}")

	p := e.start()
	if out := p.out.String(); !strings.Contains(out, "redis.tls.insecure_skip_verify is true") || strings.Contains(out, "source.tls.insecure_skip_verify") {
		t.Errorf("want the redis skip-verify warning (and no source one):\n%s", out)
	}
	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:ann@x.io")
	e.exec("UPDATE DB.users SET email = 'ann@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:ann@x.io")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}

}

// rewriteConfig replaces each old with its new in the config file, each
// exactly once.
func rewriteConfig(t *testing.T, path string, oldNew ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if strings.Count(s, oldNew[i]) != 1 {
			t.Fatalf("config %s: want %q once:\n%s", path, oldNew[i], s)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
