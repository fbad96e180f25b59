package config

import (
	"strings"
	"testing"
	"time"
)

// The source and redis take the same tls section as Kafka, with the same
// checks at their own paths.
func TestValidateSourceAndRedisTLS(t *testing.T) {
	cases := []struct {
		name, src string
		want      []want
	}{
		{"source ca alone", "source:\n  user: u\n  tls: {ca_file: /ca.pem}\n", nil},
		{"source mutual", "source:\n  user: u\n  tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name: db.internal}\n", nil},
		{"source socket with server_name", "source:\n  user: u\n  addr: /run/mysqld/mysqld.sock\n  tls: {enabled: true, server_name: db}\n", nil},
		{"redis enabled alone", "source: {user: u}\nredis:\n  tls: {enabled: true}\n", nil},
		{"redis skip verify", "source: {user: u}\nredis:\n  tls: {insecure_skip_verify: true}\n", nil},

		{"source cert without key", "source:\n  user: u\n  tls: {cert_file: /c.pem}\n", []want{
			{3, "source.tls.key_file", "is required with cert_file"}}},
		{"source enabled false with keys", "source:\n  user: u\n  tls:\n    enabled: false\n    ca_file: /ca.pem\n", []want{
			{4, "source.tls.enabled", "is false but other tls keys are set"}}},
		{"source socket without server_name", "source:\n  user: u\n  addr: /run/mysqld/mysqld.sock\n  tls: {ca_file: /ca.pem}\n", []want{
			{4, "source.tls.server_name", "is required with tls over a unix socket"}}},
		{"redis key without cert", "source: {user: u}\nredis:\n  tls:\n    key_file: /k.pem\n", []want{
			{3, "redis.tls.cert_file", "is required with key_file"}}},
		{"redis typo", "source: {user: u}\nredis:\n  tls: {ca: /ca.pem}\n", []want{
			{3, "redis.tls.ca", "unknown key"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src + "rules:\n  - table: shop.users\n    keys: [\"user:{id}\"]\n"
			_, err := Parse([]byte(src), "c.yaml", nil)
			if c.want == nil {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				return
			}
			checkProblems(t, err, c.want...)
		})
	}
}

func TestSourceAndRedisWarnings(t *testing.T) {
	if w := (SourceConfig{HeartbeatPeriod: Duration(time.Second), TLS: TLSConfig{CAFile: "/ca.pem"}}).Warnings(); len(w) != 0 {
		t.Errorf("a verified source must not warn: %q", w)
	}
	if w := (RedisConfig{}).Warnings(); len(w) != 0 {
		t.Errorf("redis without tls must not warn: %q", w)
	}
	for path, w := range map[string][]string{
		"source.tls": SourceConfig{HeartbeatPeriod: Duration(time.Second), TLS: TLSConfig{InsecureSkipVerify: true}}.Warnings(),
		"redis.tls":  RedisConfig{TLS: TLSConfig{InsecureSkipVerify: true}}.Warnings(),
	} {
		if len(w) != 1 || !strings.HasPrefix(w[0], path+".insecure_skip_verify is true") || !strings.Contains(w[0], "tests only") {
			t.Errorf("%s skip verify: warnings %q", path, w)
		}
	}
}

func TestTLSBuildNamesItsPath(t *testing.T) {
	c, err := TLSConfig{}.Build("redis.tls")
	if c != nil || err != nil {
		t.Errorf("off: %v, %v", c, err)
	}
	_, err = TLSConfig{CAFile: "/nonexistent/ca.pem", KeyFile: "/k.pem"}.Build("source.tls")
	if err == nil || !strings.Contains(err.Error(), `source.tls.ca_file: cannot read "/nonexistent/ca.pem": no such file or directory`) ||
		!strings.Contains(err.Error(), "source.tls: set both cert_file and key_file") {
		t.Errorf("err = %v", err)
	}
	c, err = TLSConfig{Enabled: true, ServerName: "db.internal"}.Build("source.tls")
	if err != nil || c.ServerName != "db.internal" || c.RootCAs != nil || c.MinVersion == 0 {
		t.Errorf("enabled: %+v, %v", c, err)
	}
}
