package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Every secret cachesync holds — the MySQL password (from a file), the
// Redis password and the Kafka SASL password (from the environment) — stays
// out of every log line, at debug level, through a Redis outage, and out of
// the messages of refused starts with a wrong Redis or Kafka password.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	const (
		mysqlPW = "My-5ql-SECRET-a81f"
		redisPW = "Re-d1s-SECRET-3c0e"
		kafkaPW = "Ka-fk4-SECRET-77d2"
		wrongPW = "Wr0ng-SECRET-9b4a"
	)
	secrets := []string{mysqlPW, redisPW, kafkaPW, wrongPW}
	db := testenv.SharedMariaDB(t)
	cluster := testenv.StartKafkaCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "cs-kafka", kafkaPW))
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 2, commit_interval: 50ms,
    sasl: {mechanism: scram-sha-256, username: cs-kafka, password: "${CS_KAFKA_PW}"}}
`, cluster.ListenAddrs()[0], kafkaTopic)
	e := newEnvRedis(t, db, []string{usersSchema}, usersRules, transport, testenv.RedisOptions{Password: redisPW})
	e.enableMetrics()
	user := "cs_" + strings.TrimPrefix(e.name, "t_")
	db.CreateUser(t, user, mysqlPW, "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `"+e.name+"`.*")
	pwFile := filepath.Join(e.dir, "mysql.pw")
	if err := os.WriteFile(pwFile, []byte(mysqlPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.editConfig("user: root,", "user: "+user+", password_file: "+pwFile+",")
	e.editConfig("redis: {addrs: [", `redis: {password: "${CS_REDIS_PW}", addrs: [`)
	env := []string{"CS_REDIS_PW=" + redisPW, "CS_KAFKA_PW=" + kafkaPW}

	// Refused starts: each names the setting to fix, and no secret.
	badRedis := runCLI(t, exitLimit, []string{"CS_REDIS_PW=" + wrongPW, "CS_KAFKA_PW=" + kafkaPW}, "run", "--config", e.cfg)
	wantFailure(t, badRedis, []string{"redis.password"}, secrets...)
	badKafka := runCLI(t, exitLimit, []string{"CS_REDIS_PW=" + redisPW, "CS_KAFKA_PW=" + wrongPW}, "run", "--config", e.cfg)
	wantFailure(t, badKafka, []string{"transport.kafka.sasl"}, secrets...)
	check := runCLI(t, exitLimit, env, "config", "check", "--online", "--config", e.cfg)
	if check.code != 0 {
		t.Fatalf("config check --online with the right secrets:\n%v", check)
	}
	if !strings.Contains(check.stdout, "redis; kafka topics") {
		t.Errorf("config check --online does not say it checked Redis and Kafka:\n%v", check)
	}
	for _, pw := range []string{"CS_REDIS_PW=" + wrongPW, "CS_KAFKA_PW=" + wrongPW} {
		bad := runCLI(t, exitLimit, append(append([]string(nil), env...), pw), "config", "check", "--online", "--config", e.cfg)
		wantFailure(t, bad, []string{"online check failed", strings.Split(pw, "=")[0][3:5]}, secrets...)
	}
	if out := check.stdout + check.stderr; containsAny(out, secrets) != "" {
		t.Fatalf("config check prints a secret (%s):\n%s", containsAny(out, secrets), out)
	}

	// A working run at debug level through a Redis outage.
	cmd := exec.Command(binPath, "run", "--config", e.cfg, "--log-level", "debug")
	cmd.Env = append(os.Environ(), env...)
	p := e.spawn(cmd)
	e.waitLog(p, `"msg":"consuming"`)
	// The tailer takes its start position apart from the consumer: a write
	// before it is before the start, and never read. A refused start above
	// may already have saved that position (with Kafka the tailer side does
	// not need Redis, and it can get that far before the consumer's refusal
	// stops the process), so wait for the stream itself, not for the line
	// that names where it starts.
	e.waitLog(p, `"msg":"ready: binlog"`)
	e.setKeys("user:1")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	e.waitGone(20*time.Second, "user:1")
	e.redis.Stop(t)
	e.exec("UPDATE DB.users SET name = 'b' WHERE id = 1")
	e.waitLog(p, "redis delete failed")
	e.redis.Start(t)
	e.setKeys("user:1")
	e.exec("UPDATE DB.users SET name = 'c' WHERE id = 1")
	e.waitGone(30*time.Second, "user:1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	out := p.out.String()
	if s := containsAny(out, secrets); s != "" {
		t.Fatalf("a secret (%s) appears in the log:\n%s", s, out)
	}
	if !strings.Contains(out, `"level":"debug"`) {
		t.Errorf("--log-level debug logged no debug line, so the test saw less than it should:\n%s", out)
	}
}

// containsAny returns the first of subs that s contains, or "".
func containsAny(s string, subs []string) string {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}
