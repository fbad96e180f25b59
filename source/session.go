package source

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// SetSessionCharset makes the server talk charset (source.charset) on c,
// whatever the handshake agreed. go-mysql v1.16's handshake asks for
// collation 255 (utf8mb4_0900_ai_ci), which MariaDB does not know: the
// session then falls back to the server's default (latin1 on a server
// without character-set-server), while the client believes it talks
// utf8mb4, so client.Conn.SetCharset("utf8mb4") sends nothing and every
// non-ASCII value is double-encoded on the way in and mangled on the way
// out. Every connection cachesync opens to the source calls this once,
// right after connecting; so does the tailer on go-mysql canal's query
// connection (its schema reads: column names, ENUM and SET members), which
// handshakeCharset already gets right on a plain connection but not over
// TLS, where the handshake is encrypted (a query connection canal reopens
// on its own over TLS talks the server's default charset again: README,
// known limits).
func SetSessionCharset(c sqlExecer, charset string) error {
	if !isCharsetName(charset) {
		return fmt.Errorf("source.charset %q is not a character set name (letters, digits, _): write utf8mb4", charset)
	}
	if _, err := c.Execute("SET NAMES " + charset); err != nil {
		return fmt.Errorf("source: SET NAMES %s (source.charset): %w", charset, err)
	}
	return nil
}

// sqlExecer runs one statement: a *client.Conn, or go-mysql canal's own
// query connection (*canal.Canal).
type sqlExecer interface {
	Execute(command string, args ...any) (*mysql.Result, error)
}

func isCharsetName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// handshakeCollations are collation IDs that MariaDB and MySQL both know,
// for the charsets source.charset is usually set to.
var handshakeCollations = map[string]byte{
	"utf8mb4": 45, // utf8mb4_general_ci
	"utf8mb3": 33, // utf8_general_ci
	"utf8":    33,
	"latin1":  8, // latin1_swedish_ci
	"ascii":   11,
	"binary":  63,
}

// go-mysql's handshake collation when none is set: utf8mb4_0900_ai_ci.
const goMySQLDefaultCollation = 255

// handshakeCharset wraps the dialer of go-mysql canal's own connections
// (its schema queries and the binlog stream), where cachesync cannot send
// SET NAMES after connecting: in the client's first packet — the handshake
// response, or the SSL request that precedes it under TLS, both with the
// collation at byte 12 — go-mysql's collation 255, unknown to MariaDB, is
// replaced by one both servers know for charset. Any other packet, and a
// collation go-mysql was told to use, pass unchanged.
func handshakeCharset(dial dialFunc, charset string) dialFunc {
	id, ok := handshakeCollations[charset]
	if !ok {
		return dial
	}
	return wrapDial(dial, func(c net.Conn) net.Conn { return &collationConn{Conn: c, id: id} })
}

type collationConn struct {
	net.Conn
	id      byte
	written atomic.Bool
}

func (c *collationConn) Write(p []byte) (int, error) {
	if c.written.Swap(true) || len(p) < 13 || p[3] != 1 || p[12] != goMySQLDefaultCollation {
		return c.Conn.Write(p)
	}
	q := bytes.Clone(p)
	q[12] = c.id
	return c.Conn.Write(q)
}
