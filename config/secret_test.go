package config

import (
	"fmt"
	"strings"
	"testing"
)

// leakSecret is recognisable, and full of characters that break templates,
// addresses, durations and names, so it reaches every error path.
const leakSecret = "Zq7-S3CR3T {x} y}:#"

// TestSecretsNeverInErrors expands a secret into every kind of field, each
// in a way that makes a problem, and greps every message for it.
func TestSecretsNeverInErrors(t *testing.T) {
	src := `source:
  addr: ${S}
  user: ${S}
  password: ${S}
  password_file: ${S}
  flavor: ${S}
  server_id: ${S}
  heartbeat_period: ${S}
  charset: ${S}
checkpoint: {store: "${S}"}
transport:
  kind: kafka
  kafka: {brokers: ["${S}"], topic: "${S}", group: g, dlq_topic: "${S}", partitions: "${S}"}
redis:
  addrs: ["${S}", "x${S}"]
  master_name: " ${S}"
  password: ${S}
  password_file: ${S}
  db: ${S}
delete: {second_delay: "${S}", command: "${S}", batch_keys: "${S}"}
retry: {initial: "${S}", max: "${S}"}
http: {addr: "${S}"}
rules:
  - table: ${S}
    keys: ["${S}", "a:${S}", "{${S}}"]
    watch: ["${S}", "${S}x"]
  - table: "a.${S}"
    keys: ["k:{id}", "k:{id}"]
`
	getenv := env("S", leakSecret)
	_, err := Parse([]byte(src), "leak.yaml", getenv)
	if err == nil {
		t.Fatal("want problems")
	}
	assertNoSecret(t, err.Error())
	if n := len(problemsOf(t, err)); n < 25 {
		t.Errorf("expected a problem for nearly every field, got %d:\n%v", n, err)
	}

	// The secret also must not show up through a valid config.
	cfg := mustParse(t, minimal+"redis: {password: '${S}'}\n", getenv)
	assertNoSecret(t, fmt.Sprintf("%v %+v %#v %v", cfg, cfg, cfg, cfg.Redis))
	if cfg.Redis.Password.Reveal() != leakSecret {
		t.Errorf("Reveal() = %q", cfg.Redis.Password.Reveal())
	}
}

// TestSecretFileContentNeverInErrors: a password file's content stays out of
// ResolveSecrets errors, even when the read fails after returning data.
func TestSecretFileContentNeverInErrors(t *testing.T) {
	cfg := mustParse(t, minimal+"redis: {password: \"${P}\"}\n", env("P", "x"))
	cfg.Redis.PasswordFile = "/run/pw"
	cfg.Source.PasswordFile = "/run/pw2"
	err := cfg.ResolveSecrets(func(string) ([]byte, error) { return []byte(leakSecret), nil })
	if err == nil {
		t.Fatal("redis has both password and password_file: want a problem")
	}
	assertNoSecret(t, err.Error())
	assertNoSecret(t, fmt.Sprintf("%+v", cfg))
}

func assertNoSecret(t *testing.T, text string) {
	t.Helper()
	for _, frag := range []string{leakSecret, "Zq7", "S3CR3T"} {
		if strings.Contains(text, frag) {
			t.Errorf("secret fragment %q leaked in:\n%s", frag, text)
		}
	}
}

// A secret written into the file is refused at every secret key, naming the
// key and the two ways to give it, and the message never holds the value.
func TestLiteralSecretsRefused(t *testing.T) {
	q := "'" + leakSecret + "'"
	src := `source: {user: u, password: ` + q + `}
redis: {master_name: m, password: ` + q + `, sentinel_password: ` + q + `}
transport:
  kind: kafka
  kafka: {brokers: [k:9092], topic: t, group: g, sasl: {mechanism: plain, username: u, password: ` + q + `}}
rules:
  - table: shop.users
    keys: ["user:{id}"]
`
	_, err := Parse([]byte(src), "c.yaml", nil)
	checkProblems(t, err,
		want{1, "source.password", `write password: "${MYSQL_PASSWORD}", or use password_file`},
		want{2, "redis.password", `write password: "${REDIS_PASSWORD}", or use password_file`},
		want{2, "redis.sentinel_password", `write sentinel_password: "${REDIS_SENTINEL_PASSWORD}", or use sentinel_password_file`},
		want{5, "transport.kafka.sasl.password", `write password: "${KAFKA_PASSWORD}", or use password_file`})
	assertNoSecret(t, err.Error())
	// Empty is no password, not a secret in the file.
	mustParse(t, minimal+"redis: {password: ''}\n", nil)
}
