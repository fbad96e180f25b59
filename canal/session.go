package canal

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"
)

// SetSessionCharset makes the server talk charset (source.charset) on c,
// whatever the handshake agreed. go-mysql v1.16's handshake asks for
// collation 255 (utf8mb4_0900_ai_ci), which MariaDB does not know: the
// session then falls back to the server's default (latin1 on a server
// without character-set-server), while the client believes it talks
// utf8mb4, so client.Conn.SetCharset("utf8mb4") sends nothing and every
// non-ASCII value is double-encoded on the way in and mangled on the way
// out. Every connection cachesync opens to the source calls this once,
// right after connecting.
func SetSessionCharset(c *client.Conn, charset string) error {
	if !isCharsetName(charset) {
		return fmt.Errorf("source.charset %q is not a character set name (letters, digits, _): write utf8mb4", charset)
	}
	if _, err := c.Execute("SET NAMES " + charset); err != nil {
		return fmt.Errorf("source: SET NAMES %s (source.charset): %w", charset, err)
	}
	return nil
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
