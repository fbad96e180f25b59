package source

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/schema"
)

// ErrNoSuchTable means the table is not on the source (or not visible to
// the configured user).
var ErrNoSuchTable = errors.New("no such table")

// LoadTable reads a table's schema exactly as go-mysql canal does for the
// tailer (schema.NewTable), so column types, ENUM members and BINARY sizes
// agree with the binlog path.
func LoadTable(conn *client.Conn, db, table string) (*schema.Table, error) {
	r, err := conn.Execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table)
	if err != nil {
		return nil, fmt.Errorf("checking that %s.%s exists: %w", db, table, err)
	}
	if r.RowNumber() == 0 {
		return nil, fmt.Errorf("%s.%s: %w on the source (check the name; names are case-sensitive, and the user needs SELECT on it)", db, table, ErrNoSuchTable)
	}
	t, err := schema.NewTable(conn, db, table)
	if err != nil {
		return nil, fmt.Errorf("reading the schema of %s.%s: %w", db, table, err)
	}
	return t, nil
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
