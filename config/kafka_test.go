package config

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

// kafkaBase is minimal (lines 1-5) plus a valid kafka transport (lines
// 6-11); a case's extra lines start at line 12, indented under kafka:.
const kafkaBase = minimal + `transport:
  kind: kafka
  kafka:
    brokers: ['k:9092']
    topic: t
    group: g
`

func TestValidateKafka(t *testing.T) {
	cases := []struct {
		name, extra string
		want        []want
	}{
		{"defaults", "", nil},
		{"tls enabled alone", "    tls: {enabled: true}\n", nil},
		{"tls ca alone", "    tls: {ca_file: /etc/kafka/ca.pem}\n", nil},
		{"mutual tls", "    tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name: kafka.internal}\n", nil},
		{"tls skip verify", "    tls: {insecure_skip_verify: true}\n", nil},
		{"tls written empty", "    tls: {}\n", nil},
		{"sasl plain", "    sasl: {mechanism: plain, username: u, password: '${P}'}\n", nil},
		{"sasl scram-sha-256 file", "    sasl: {mechanism: scram-sha-256, username: u, password_file: /run/kafka-pw}\n", nil},
		{"sasl scram-sha-512", "    sasl: {mechanism: scram-sha-512, username: u, password: '${P}'}\n", nil},
		{"sasl written empty", "    sasl: {mechanism: '', username: '', password: ''}\n", nil},
		{"tuning", "    client_id: svc-a\n    batch_timeout: 10ms\n    batch_size: 1\n    max_message_bytes: 1\n    commit_interval: 1s\n    max_in_flight: 1\n", nil},

		{"message batch", "    message: batch\n", nil},
		{"message unknown", "    message: chunk\n", []want{
			{12, "transport.kafka.message", `must be row or batch, got "chunk"`}}},

		{"cert without key", "    tls: {cert_file: /c.pem}\n", []want{
			{12, "transport.kafka.tls.key_file", "is required with cert_file"}}},
		{"key without cert", "    tls:\n      ca_file: /ca.pem\n      key_file: /k.pem\n", []want{
			{12, "transport.kafka.tls.cert_file", "is required with key_file"}}},
		{"tls enabled false with keys", "    tls:\n      enabled: false\n      ca_file: /ca.pem\n", []want{
			{13, "transport.kafka.tls.enabled", "is false but other tls keys are set"}}},
		{"sasl username only", "    sasl: {username: u}\n", []want{
			{12, "transport.kafka.sasl.mechanism", "is required with sasl: plain, scram-sha-256 or scram-sha-512"},
			{12, "transport.kafka.sasl.password", `write password: "${KAFKA_PASSWORD}", or password_file`}}},
		{"sasl password only", "    sasl:\n      password: '${P}'\n", []want{
			{12, "transport.kafka.sasl.mechanism", "is required"},
			{12, "transport.kafka.sasl.username", "is required with sasl"}}},
		{"sasl unknown mechanism", "    sasl:\n      mechanism: PLAIN\n      username: u\n      password: '${P}'\n", []want{
			{13, "transport.kafka.sasl.mechanism", `must be plain or scram-sha-256 or scram-sha-512, got "PLAIN"`}}},
		{"sasl both passwords", "    sasl:\n      mechanism: plain\n      username: u\n      password: '${P}'\n      password_file: /f\n", []want{
			{16, "transport.kafka.sasl.password_file", "set either password or password_file, not both"}}},
		{"tuning all wrong", "    client_id: ''\n    batch_timeout: 0\n    batch_size: 0\n    max_message_bytes: -1\n    commit_interval: -1s\n    max_in_flight: 0\n", []want{
			{12, "transport.kafka.client_id", "must not be empty"},
			{13, "transport.kafka.batch_timeout", `must be above 0 (default 1ms), got "0s"`},
			{14, "transport.kafka.batch_size", `must be at least 1 (default 1000), got "0"`},
			{15, "transport.kafka.max_message_bytes", `must be at least 1 (default 1048576), got "-1"`},
			{16, "transport.kafka.commit_interval", `must be above 0 (default 200ms), got "-1s"`},
			{17, "transport.kafka.max_in_flight", `must be at least 1 (default 8000), got "0"`}}},
		{"in flight below batch", "    batch_size: 500\n    max_in_flight: 100\n", []want{
			{13, "transport.kafka.max_in_flight", `must be at least batch_size ("500"), or no batch ever fills`}}},
		{"in flight below default batch", "    max_in_flight: 999\n", []want{
			{12, "transport.kafka.max_in_flight", `must be at least batch_size ("1000")`}}},
		{"bare number duration", "    commit_interval: 200\n", []want{
			{12, "transport.kafka.commit_interval", "a number needs a unit"}}},
		{"typo in tls", "    tls: {ca_fil: /ca.pem}\n", []want{
			{12, "transport.kafka.tls.ca_fil", `did you mean "ca_file"?`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(kafkaBase+c.extra), "k.yaml", env("P", "p"))
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				return
			}
			checkProblems(t, err, c.want...)
		})
	}
}

// With kind direct the kafka section is not checked, new keys included.
func TestValidateKafkaIgnoredWhenDirect(t *testing.T) {
	src := minimal + "transport:\n  kind: direct\n  kafka: {sasl: {username: u}, tls: {cert_file: /c}, batch_size: 0}\n"
	if _, err := Parse([]byte(src), "d.yaml", nil); err != nil {
		t.Fatalf("unexpected problems:\n%v", err)
	}
}

func TestKafkaDefaults(t *testing.T) {
	k := mustParse(t, kafkaBase, nil).Transport.Kafka
	if k.ClientID != "cachesync" || k.BatchTimeout.D() != time.Millisecond || k.BatchSize != 1000 ||
		k.MaxMessageBytes != 1048576 || k.CommitInterval.D() != 200*time.Millisecond || k.MaxInFlight != 8000 {
		t.Errorf("defaults not kept: %+v", k)
	}
	if k.TLS.Active() || k.SASL.Active() {
		t.Errorf("tls and sasl must be off by default: %+v %+v", k.TLS, k.SASL)
	}
	k = mustParse(t, kafkaBase+"    batch_size: 20\n    tls: {server_name: kafka.internal}\n", nil).Transport.Kafka
	if k.BatchSize != 20 || k.MaxInFlight != 8000 || !k.TLS.Active() {
		t.Errorf("written value should win, the rest keep defaults: %+v", k)
	}
}

// A Config built in Go from Default() is valid with kafka; a zero tuning
// value is reported at line 0 like any problem of a Config built in Go.
func TestValidateKafkaBuiltInGo(t *testing.T) {
	cfg := Default()
	cfg.Source.User = "u"
	cfg.Rules = []Rule{{Table: "shop.users", Keys: []string{"u:{id}"}}}
	cfg.Transport.Kind = "kafka"
	cfg.Transport.Kafka.Brokers = []string{"k:9092"}
	cfg.Transport.Kafka.Topic, cfg.Transport.Kafka.Group = "t", "g"
	cfg.Transport.Kafka.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "u", Password: "p"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	cfg.Transport.Kafka.CommitInterval = 0
	cfg.Transport.Kafka.TLS.KeyFile = "/k.pem"
	checkProblems(t, cfg.Validate(),
		want{0, "transport.kafka.commit_interval", "must be above 0"},
		want{0, "transport.kafka.tls.cert_file", "is required with key_file"})
}

func TestResolveKafkaSecret(t *testing.T) {
	read := func(name string) ([]byte, error) {
		if name == "/run/kafka-pw" {
			return []byte("kafka-pw\r\n"), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	src := kafkaBase + "    sasl:\n      mechanism: plain\n      username: u\n      password_file: /run/kafka-pw\n"
	cfg := mustParse(t, src, nil)
	if err := cfg.ResolveSecrets(read); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Transport.Kafka.SASL; s.Password.Reveal() != "kafka-pw" || s.PasswordFile != "" {
		t.Errorf("sasl after ResolveSecrets = %q, %q", s.Password.Reveal(), s.PasswordFile)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("config must stay valid after ResolveSecrets: %v", err)
	}

	cfg = mustParse(t, strings.Replace(src, "/run/kafka-pw", "/run/missing", 1), nil)
	checkProblems(t, cfg.ResolveSecrets(read),
		want{15, "transport.kafka.sasl.password_file", `cannot read "/run/missing": file does not exist`})

	// With kind direct the kafka section is ignored: its file is not read.
	cfg = mustParse(t, strings.Replace(src, "kind: kafka", "kind: direct", 1), nil)
	called := false
	if err := cfg.ResolveSecrets(func(string) ([]byte, error) { called = true; return nil, fs.ErrNotExist }); err != nil || called {
		t.Errorf("kind direct: want no read, got called=%v err=%v", called, err)
	}
}

func TestReadPasswordFile(t *testing.T) {
	read := func(string) ([]byte, error) { return []byte("pw\n"), nil }
	if s, err := ReadPasswordFile("/f", read); err != nil || s.Reveal() != "pw" {
		t.Errorf("ReadPasswordFile = %q, %v", s.Reveal(), err)
	}
	empty := func(string) ([]byte, error) { return []byte("\r\n"), nil }
	if _, err := ReadPasswordFile("/f", empty); err == nil || !strings.Contains(err.Error(), `"/f" is empty`) {
		t.Errorf("empty file: %v", err)
	}
}

// The SASL password, from the environment, stays out of every message, also
// when other values in the section are wrong.
func TestKafkaSecretNeverInErrors(t *testing.T) {
	src := kafkaBase + `    client_id: ""
    max_in_flight: "${S}"
    batch_timeout: "${S}"
    tls: {cert_file: "${S}", server_name: "${S}"}
    sasl:
      mechanism: "${S}"
      password: "${S}"
      password_file: "${S}"
`
	_, err := Parse([]byte(src), "leak.yaml", env("S", leakSecret))
	if err == nil {
		t.Fatal("want problems")
	}
	assertNoSecret(t, err.Error())
	if n := len(problemsOf(t, err)); n < 6 {
		t.Errorf("expected a problem for nearly every key, got %d:\n%v", n, err)
	}
	cfg := mustParse(t, kafkaBase+"    sasl: {mechanism: plain, username: u, password: \"${S}\"}\n", env("S", leakSecret))
	assertNoSecret(t, fmt.Sprintf("%v %+v %#v", cfg.Transport.Kafka, cfg.Transport.Kafka, cfg.Transport.Kafka))
	if cfg.Transport.Kafka.SASL.Password.Reveal() != leakSecret {
		t.Errorf("Reveal() = %q", cfg.Transport.Kafka.SASL.Password.Reveal())
	}
}

func TestKafkaWarnings(t *testing.T) {
	cases := []struct {
		name string
		k    KafkaConfig
		want []string // a piece of each warning, in order
	}{
		{"safe", KafkaConfig{TLS: TLSConfig{Enabled: true}, SASL: SASLConfig{Mechanism: "plain"}}, nil},
		{"scram without tls", KafkaConfig{SASL: SASLConfig{Mechanism: "scram-sha-512"}}, nil},
		{"skip verify", KafkaConfig{TLS: TLSConfig{InsecureSkipVerify: true}}, []string{"insecure_skip_verify is true"}},
		{"plain in clear", KafkaConfig{SASL: SASLConfig{Mechanism: "plain"}}, []string{"in clear text"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.k.Warnings()
			ok := len(got) == len(c.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.Contains(got[i], c.want[i])
			}
			if !ok {
				t.Errorf("Warnings() = %q, want pieces %q", got, c.want)
			}
			if slices.ContainsFunc(got, func(w string) bool { return strings.Contains(w, "******") }) {
				t.Errorf("a warning mentions a secret: %q", got)
			}
		})
	}
}
