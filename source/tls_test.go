package source

import (
	"context"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// A MariaDB with TLS and an account that REQUIRE SSL: source.tls reaches it
// (and the session is encrypted); without TLS, with another CA or another
// name, the error says what to change. Then require_secure_transport: a
// plain connection is told to set source.tls.
func TestSourceTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	m := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: pki.MariaDBConfig()})
	m.CreateUser(t, "tls_user", "tls-pw", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON *.*")
	m.RequireSSL(t, "tls_user")
	ctx := context.Background()
	src := config.Default().Source
	src.Addr, src.User, src.Password, src.Flavor = m.Addr, "tls_user", "tls-pw", "mariadb"

	ok := []struct {
		name string
		tls  config.TLSConfig
	}{
		{"ca_file", config.TLSConfig{CAFile: pki.CAFile}},
		{"client certificate", config.TLSConfig{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}},
		{"server_name localhost", config.TLSConfig{CAFile: pki.CAFile, ServerName: "localhost"}},
		{"insecure_skip_verify", config.TLSConfig{InsecureSkipVerify: true}},
	}
	for _, c := range ok {
		src := src
		src.TLS = c.tls
		if err := Preflight(ctx, src); err != nil {
			t.Fatalf("%s: preflight: %v", c.name, err)
		}
		conn, err := Connect(ctx, src)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r, err := conn.Execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cipher, _ := r.GetString(0, 1); cipher == "" {
			t.Errorf("%s: the session is not encrypted (Ssl_cipher empty)", c.name)
		}
	}

	other := testenv.NewPKI(t)
	bad := []struct {
		name string
		tls  config.TLSConfig
		want []string
	}{
		{"no tls", config.TLSConfig{}, []string{"access denied", "REQUIRE SSL or X509 or the server sets require_secure_transport, set source.tls"}},
		{"another CA", config.TLSConfig{CAFile: other.CAFile}, []string{"set source.tls.ca_file to the CA that signed it"}},
		{"wrong name", config.TLSConfig{CAFile: pki.CAFile, ServerName: "db.internal"}, []string{"set source.tls.server_name"}},
		{"missing file", config.TLSConfig{CAFile: pki.Dir + "/missing.pem"}, []string{`source.tls.ca_file: cannot read "` + pki.Dir + `/missing.pem"`}},
	}
	for _, c := range bad {
		src := src
		src.TLS = c.tls
		err := Preflight(ctx, src)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want %q", c.name, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "tls-pw") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}

	// Every account, root too, must now come with TLS. MariaDB says access
	// denied (MySQL has its own code, ER_SECURE_TRANSPORT_REQUIRED).
	m.Exec(t, "SET GLOBAL require_secure_transport = ON")
	root := src
	root.User, root.Password = "root", ""
	err := Preflight(ctx, root)
	if err == nil || !strings.Contains(err.Error(), "require_secure_transport, set source.tls") {
		t.Errorf("require_secure_transport without tls: %v", err)
	}
	root.TLS = config.TLSConfig{CAFile: pki.CAFile}
	if err := Preflight(ctx, root); err != nil {
		t.Errorf("require_secure_transport with tls: %v", err)
	}
}

// A server without TLS: source.tls on is told the server does not offer it.
func TestSourceTLSServerWithout(t *testing.T) {
	t.Parallel()
	m := testenv.SharedMariaDB(t)
	src := config.Default().Source
	src.Addr, src.User, src.Flavor = m.Addr, "root", "mariadb"
	src.TLS = config.TLSConfig{Enabled: true}
	err := Preflight(context.Background(), src)
	if err == nil || !strings.Contains(err.Error(), "the server does not offer TLS") {
		t.Fatalf("err = %v", err)
	}
}
