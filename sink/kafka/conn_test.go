package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// testPKI is testenv.PKI (a CA, a server certificate for 127.0.0.1/localhost
// and a client certificate, all PEM files in one temp dir) under the names
// these tests use.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	caKeyFile                 string // the CA's key: a valid key that matches no client certificate
	pool                      *x509.CertPool
	server                    tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	p := testenv.NewPKI(t)
	return testPKI{dir: p.Dir, caFile: p.CAFile, certFile: p.CertFile, keyFile: p.KeyFile,
		caKeyFile: p.CAKeyFile, pool: p.Pool, server: p.Server}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewConnPlainTCP(t *testing.T) {
	conn, err := NewConn(config.Default().Transport.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	if conn.TLS != nil || conn.SASL != nil || conn.Transport.TLS != nil || conn.Transport.SASL != nil ||
		conn.Dialer.TLS != nil || conn.Dialer.SASLMechanism != nil {
		t.Errorf("defaults must mean plain TCP without SASL: %+v", conn)
	}
	if conn.Transport.ClientID != "cachesync" || conn.Dialer.ClientID != "cachesync" ||
		conn.Transport.DialTimeout != 5*time.Second || conn.Dialer.Timeout != 5*time.Second || !conn.Dialer.DualStack {
		t.Errorf("transport %+v, dialer %+v", conn.Transport, conn.Dialer)
	}
}

func TestNewConnTLS(t *testing.T) {
	p := newTestPKI(t)
	c := config.Default().Transport.Kafka
	c.TLS = config.TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile, ServerName: "kafkago.internal"}
	conn, err := NewConn(c)
	if err != nil {
		t.Fatal(err)
	}
	tc := conn.TLS
	if tc == nil || tc.RootCAs == nil || !tc.RootCAs.Equal(p.pool) || len(tc.Certificates) != 1 ||
		tc.ServerName != "kafkago.internal" || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("tls config = %+v", tc)
	}
	if conn.Transport.TLS != tc || conn.Dialer.TLS != tc {
		t.Errorf("transport and dialer must use the same TLS config")
	}

	// enabled alone: the system's roots (RootCAs nil), no client certificate.
	conn, err = NewConn(config.KafkaConfig{TLS: config.TLSConfig{Enabled: true}})
	if err != nil || conn.TLS == nil || conn.TLS.RootCAs != nil || len(conn.TLS.Certificates) != 0 {
		t.Errorf("enabled alone: %+v, %v", conn.TLS, err)
	}
	conn, err = NewConn(config.KafkaConfig{TLS: config.TLSConfig{InsecureSkipVerify: true}})
	if err != nil || conn.TLS == nil || !conn.TLS.InsecureSkipVerify {
		t.Errorf("insecure_skip_verify: %+v, %v", conn.TLS, err)
	}
}

func TestNewConnTLSErrors(t *testing.T) {
	p := newTestPKI(t)
	notPEM := writeFile(t, p.dir, "ca.der", "\x30\x82\x01\x0a garbage")
	missing := filepath.Join(p.dir, "missing.pem")
	noRead := writeFile(t, p.dir, "noread.pem", "x")
	if err := os.Chmod(noRead, 0); err != nil {
		t.Fatal(err)
	}
	_, rerr := os.ReadFile(noRead)
	cases := []struct {
		name string
		tls  config.TLSConfig
		want []string
	}{
		{"missing CA", config.TLSConfig{CAFile: missing},
			[]string{`transport.kafka.tls.ca_file: cannot read "` + missing + `": no such file or directory: fix the path`}},
		{"CA not PEM", config.TLSConfig{CAFile: notPEM},
			[]string{`transport.kafka.tls.ca_file: "` + notPEM + `" holds no PEM certificate`, "openssl x509 -inform der"}},
		{"CA file is a key", config.TLSConfig{CAFile: p.keyFile}, []string{"holds no PEM certificate"}},
		{"cert without key", config.TLSConfig{CertFile: p.certFile}, []string{"set both cert_file and key_file"}},
		{"key not matching cert", config.TLSConfig{CertFile: p.certFile, KeyFile: p.caKeyFile},
			[]string{`cert_file "` + p.certFile + `" and key_file "` + p.caKeyFile + `" are not a usable pair`}},
		{"cert and key swapped", config.TLSConfig{CertFile: p.keyFile, KeyFile: p.certFile}, []string{"are not a usable pair"}},
		{"missing key and CA at once", config.TLSConfig{CAFile: missing, CertFile: p.certFile, KeyFile: missing}, []string{
			"transport.kafka.tls.ca_file: cannot read", "transport.kafka.tls.key_file: cannot read"}},
	}
	if rerr != nil { // root reads any file
		cases = append(cases, struct {
			name string
			tls  config.TLSConfig
			want []string
		}{"unreadable cert", config.TLSConfig{CertFile: noRead, KeyFile: p.keyFile},
			[]string{`transport.kafka.tls.cert_file: cannot read "` + noRead + `": permission denied`}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewConn(config.KafkaConfig{TLS: c.tls})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error shows key material:\n%v", err)
			}
		})
	}
}

func TestNewConnSASL(t *testing.T) {
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "pw", "file-pw\n")
	cases := []struct {
		sasl config.SASLConfig
		name string // the mechanism's Name()
	}{
		{config.SASLConfig{Mechanism: "plain", Username: "u", Password: "pw"}, "PLAIN"},
		{config.SASLConfig{Mechanism: "scram-sha-256", Username: "u", Password: "pw"}, "SCRAM-SHA-256"},
		{config.SASLConfig{Mechanism: "scram-sha-512", Username: "u", PasswordFile: pwFile}, "SCRAM-SHA-512"},
	}
	for _, c := range cases {
		conn, err := NewConn(config.KafkaConfig{SASL: c.sasl})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if conn.SASL == nil || conn.SASL.Name() != c.name || conn.Transport.SASL != conn.SASL || conn.Dialer.SASLMechanism != conn.SASL {
			t.Errorf("%s: got %v", c.name, conn.SASL)
		}
	}
	conn, err := NewConn(config.KafkaConfig{SASL: config.SASLConfig{Mechanism: "plain", Username: "u", PasswordFile: pwFile}})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := conn.SASL.(maskedPlain); !ok || m.Password != "file-pw" {
		t.Errorf("password_file must be read with its trailing newline dropped: %#v", conn.SASL)
	}
}

// The password never shows in an error, nor when a Conn is printed.
func TestNewConnSASLNoPasswordInErrors(t *testing.T) {
	const pw = "Zq7-S3CR3T\x07"
	dir := t.TempDir()
	cases := []struct {
		name string
		sasl config.SASLConfig
		want string
	}{
		{"unknown mechanism", config.SASLConfig{Mechanism: "gssapi", Username: "u", Password: pw}, `mechanism: must be plain, scram-sha-256 or scram-sha-512, got "gssapi"`},
		{"scram refuses password", config.SASLConfig{Mechanism: "scram-sha-256", Username: "u", Password: pw}, "sasl.password: cannot be used with SCRAM"},
		{"scram refuses username", config.SASLConfig{Mechanism: "scram-sha-512", Username: "u\x07", Password: pw}, "sasl.username"},
		{"plain NUL", config.SASLConfig{Mechanism: "plain", Username: "u", Password: pw + "\x00"}, "sasl.password: holds a NUL character"},
		{"both", config.SASLConfig{Mechanism: "plain", Username: "u", Password: pw, PasswordFile: "/f"}, "not both"},
		{"no username", config.SASLConfig{Mechanism: "plain", Password: pw}, "username and password (or password_file) are required"},
		{"missing file", config.SASLConfig{Mechanism: "plain", Username: "u", PasswordFile: filepath.Join(dir, "nope")},
			`transport.kafka.sasl.password_file: cannot read "` + filepath.Join(dir, "nope") + `"`},
		{"empty file", config.SASLConfig{Mechanism: "plain", Username: "u", PasswordFile: writeFile(t, dir, "empty", "\n")}, "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewConn(config.KafkaConfig{SASL: c.sasl})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if strings.Contains(err.Error(), "S3CR3T") {
				t.Errorf("password in error: %v", err)
			}
		})
	}
	conn, err := NewConn(config.KafkaConfig{SASL: config.SASLConfig{Mechanism: "plain", Username: "u", Password: "Zq7-S3CR3T"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s %d %x", conn, conn, conn, conn.SASL, conn.SASL, conn.SASL); strings.Contains(s, "S3CR3T") || strings.Contains(s, "5333") {
		t.Errorf("password printed: %s", s)
	}
}

// TestConnRoundTrip authenticates against an in-process broker over
// mutual TLS, with every mechanism, through both the Transport and the
// Dialer: the right password gets metadata, a wrong one is refused.
func TestConnRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ClusterID("cachesync-test"),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pw"),
		kfake.Superuser("SCRAM-SHA-256", "s256-user", "s256-pw"),
		kfake.Superuser("SCRAM-SHA-512", "s512-user", "s512-pw"),
		kfake.TLS(&tls.Config{
			Certificates: []tls.Certificate{p.server},
			ClientCAs:    p.pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]
	pwFile := writeFile(t, p.dir, "s512-pw", "s512-pw\n")
	tlsCfg := config.TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}

	cases := []struct {
		name string
		sasl config.SASLConfig
		ok   bool
	}{
		{"plain", config.SASLConfig{Mechanism: "plain", Username: "plain-user", Password: "plain-pw"}, true},
		{"plain wrong password", config.SASLConfig{Mechanism: "plain", Username: "plain-user", Password: "nope"}, false},
		{"scram-sha-256", config.SASLConfig{Mechanism: "scram-sha-256", Username: "s256-user", Password: "s256-pw"}, true},
		{"scram-sha-256 wrong password", config.SASLConfig{Mechanism: "scram-sha-256", Username: "s256-user", Password: "nope"}, false},
		{"scram-sha-512 from file", config.SASLConfig{Mechanism: "scram-sha-512", Username: "s512-user", PasswordFile: pwFile}, true},
		{"scram-sha-512 wrong user", config.SASLConfig{Mechanism: "scram-sha-512", Username: "s256-user", Password: "s256-pw"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := config.Default().Transport.Kafka
			k.TLS, k.SASL = tlsCfg, c.sasl
			conn, err := NewConn(k)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Transport.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			client := &kafkago.Client{Addr: kafkago.TCP(addr), Transport: conn.Transport}
			_, err = client.Metadata(ctx, &kafkago.MetadataRequest{})
			checkAuth(t, "transport", err, c.ok)

			kc, err := conn.Dialer.DialContext(ctx, "tcp", addr)
			if err == nil {
				_, err = kc.Brokers()
				kc.Close()
			}
			checkAuth(t, "dialer", err, c.ok)
		})
	}

	// Without the client certificate the broker refuses the TLS handshake.
	k := config.Default().Transport.Kafka
	k.TLS = config.TLSConfig{CAFile: p.caFile}
	k.SASL = cases[0].sasl
	conn, err := NewConn(k)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Transport.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	client := &kafkago.Client{Addr: kafkago.TCP(addr), Transport: conn.Transport}
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{}); err == nil {
		t.Error("metadata without a client certificate: want an error")
	}
}

func checkAuth(t *testing.T, via string, err error, ok bool) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Errorf("%s: want success, got %v", via, err)
	case !ok && err == nil:
		t.Errorf("%s: wrong credentials accepted", via)
	case !ok && strings.Contains(err.Error(), "context deadline exceeded"):
		t.Errorf("%s: a refusal should fail fast, not time out: %v", via, err)
	case !ok:
		t.Logf("%s: refused as expected: %v", via, err)
	}
}
