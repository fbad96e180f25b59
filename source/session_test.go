package source

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

// TestHandshakeCharset: go-mysql canal opens its own query connections (the
// schema it decodes rows with), where cachesync cannot send SET NAMES.
// Through handshakeCharset's dialer, such a plain connection to a
// latin1-default MariaDB talks utf8mb4 from the handshake on. (Over TLS the
// response MariaDB reads the collation from is encrypted: out of reach.)
func TestHandshakeCharset(t *testing.T) {
	t.Parallel()
	m := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{
		"character_set_server=latin1", "collation_server=latin1_swedish_ci"}})
	dial := handshakeCharset((&net.Dialer{Timeout: 10 * time.Second}).DialContext, "utf8mb4")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.ConnectWithDialer(ctx, "", m.Addr, "root", "", "", dial)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Execute("SELECT @@character_set_client, @@character_set_results, @@character_set_connection")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if cs, _ := r.GetString(0, i); cs != "utf8mb4" {
			t.Errorf("session charset %d is %q, want utf8mb4", i, cs)
		}
	}
}
