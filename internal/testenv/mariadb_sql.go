package testenv

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// queryTimeout bounds each read and write of the helpers' connections, so a
// paused or wedged server fails the test instead of hanging it.
const queryTimeout = 30 * time.Second

// connect opens a root connection over TCP with no default database.
func (m *MariaDB) connect() (*client.Conn, error) {
	c, err := client.Connect(m.Addr, "root", "", "", withTimeouts(queryTimeout))
	if err != nil {
		return nil, fmt.Errorf("testenv: connect to mariadb %s: %w", m.Addr, err)
	}
	return c, nil
}

// withTimeouts sets a connection's read and write timeouts; they take
// effect only as a Connect option, not when set on the Conn afterwards.
func withTimeouts(d time.Duration) client.Option {
	return func(c *client.Conn) error {
		c.ReadTimeout, c.WriteTimeout = d, d
		return nil
	}
}

// Conn returns a root connection with no default database, closed when the
// test ends. Use it for `USE db` and statements that need one session.
func (m *MariaDB) Conn(t testing.TB) *client.Conn {
	t.Helper()
	c, err := m.connect()
	fatalIf(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// ExecErr runs one statement as root on a fresh connection (so no `USE`
// carries over: qualify table names). With args it is a prepared statement.
func (m *MariaDB) ExecErr(query string, args ...any) error {
	_, err := m.exec(query, args...)
	return err
}

// Exec is ExecErr that fails the test on error and returns the result.
func (m *MariaDB) Exec(t testing.TB, query string, args ...any) *mysql.Result {
	t.Helper()
	r, err := m.exec(query, args...)
	fatalIf(t, err)
	return r
}

func (m *MariaDB) exec(query string, args ...any) (*mysql.Result, error) {
	c, err := m.connect()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := c.Execute(query, args...)
	if err != nil {
		return nil, fmt.Errorf("testenv: mariadb %s: %q: %w", m.Addr, query, err)
	}
	return r, nil
}

// CreateUser creates name for 'localhost', '127.0.0.1' and '%' (a client on
// 127.0.0.1 matches the most specific host, so all three must agree) and
// grants each of grants to all three. A grant is "PRIVILEGES ON OBJECT",
// e.g. "REPLICATION SLAVE, REPLICATION CLIENT ON *.*" or "SELECT ON shop.*".
func (m *MariaDB) CreateUser(t testing.TB, name, password string, grants ...string) {
	t.Helper()
	for _, host := range []string{"localhost", "127.0.0.1", "%"} {
		account := quote(name) + "@" + quote(host)
		m.Exec(t, "CREATE USER "+account+" IDENTIFIED BY "+quote(password))
		for _, g := range grants {
			m.Exec(t, "GRANT "+g+" TO "+account)
		}
	}
}

// RequireSSL makes every account CreateUser made for name accept only TLS
// connections (ALTER USER ... REQUIRE SSL).
func (m *MariaDB) RequireSSL(t testing.TB, name string) {
	t.Helper()
	for _, host := range []string{"localhost", "127.0.0.1", "%"} {
		m.Exec(t, "ALTER USER "+quote(name)+"@"+quote(host)+" REQUIRE SSL")
	}
}

// quote makes s a single-quoted SQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// MasterStatus returns the server's current binlog file and position: the
// end of everything committed so far.
func (m *MariaDB) MasterStatus(t testing.TB) (file string, pos uint32) {
	t.Helper()
	r := m.Exec(t, "SHOW MASTER STATUS")
	if r.Resultset == nil || r.RowNumber() != 1 {
		t.Fatalf("testenv: SHOW MASTER STATUS on %s returned no row: is log_bin off?", m.Addr)
	}
	file, err := r.GetStringByName(0, "File")
	fatalIf(t, err)
	p, err := r.GetUintByName(0, "Position")
	fatalIf(t, err)
	return file, uint32(p)
}

var notIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates a database no other test uses, named after the test,
// and drops it when the test ends. On the shared server every test sees
// every other test's binlog events: filter by this name.
func (m *MariaDB) NewDatabase(t testing.TB) string {
	t.Helper()
	name := notIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t_%s_%d", name, m.dbSeq.Add(1))
	m.Exec(t, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() {
		if p := m.current(); p == nil || p.exited() || p.isPaused() {
			return // the test stopped it; the whole datadir goes anyway
		}
		if err := m.ExecErr("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("testenv: cleanup: %v", err)
		}
	})
	return name
}

// ReplicaServerID returns a server_id for a binlog client of this server
// that no other caller got: two replicas with one id disconnect each other.
func (m *MariaDB) ReplicaServerID() uint32 {
	return 1000 + m.replicaSeq.Add(1)
}
