package pipeline

import (
	"context"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// The write-behind flusher's connections use source.tls: against an
// account that REQUIRE SSL, a dial without it is refused and one with it is
// encrypted.
func TestFlusherDialerTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: pki.MariaDBConfig()})
	db.CreateUser(t, "tls_user", "tls-pw", "ALL PRIVILEGES ON *.*")
	db.RequireSSL(t, "tls_user")

	src := config.Default().Source
	src.Addr, src.User, src.Password = db.Addr, "tls_user", "tls-pw"
	if _, err := mysqlDialer(src)(context.Background()); err == nil {
		t.Fatal("flusher dialer without source.tls: want access denied")
	}
	src.TLS = config.TLSConfig{CAFile: pki.CAFile}
	conn, err := mysqlDialer(src)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := conn.Execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
	if err != nil {
		t.Fatal(err)
	}
	if cipher, _ := r.GetString(0, 1); cipher == "" {
		t.Error("flusher connection not encrypted")
	}
}
