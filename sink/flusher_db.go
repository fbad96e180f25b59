package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	pingcaperrors "github.com/pingcap/errors"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
)

// flushDB is the flusher's MySQL side: one connection, the offsets row and
// the live schema of the tables it writes (columns are validated against it,
// never trusted from the stream).
type flushDB struct {
	dial    Dialer
	rule    *config.Rule
	log     *zap.Logger
	conn    *client.Conn
	schemas map[string]*tableSchema // db.table → schema; nil entry: no such table
}

type tableSchema struct {
	db, name string
	cols     map[string]string // lower-case name → name
	pk       []string          // primary key columns, in index order
}

func (t *tableSchema) String() string { return t.db + "." + t.name }

func newFlushDB(dial Dialer, rule *config.Rule, log *zap.Logger) *flushDB {
	return &flushDB{dial: dial, rule: rule, log: log, schemas: map[string]*tableSchema{}}
}

// get returns the open connection or dials a new one in strict mode, so a
// value that does not fit its column is an error (a poison entry), never a
// silently truncated row.
func (d *flushDB) get(ctx context.Context) (*client.Conn, error) {
	if d.conn != nil {
		return d.conn, nil
	}
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')"); err != nil {
		c.Close()
		return nil, fmt.Errorf("setting strict sql_mode: %w", err)
	}
	d.conn = c
	return c, nil
}

func (d *flushDB) reset() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

func (d *flushDB) close() { d.reset() }

func (d *flushDB) offsetsTable() string {
	return quoteIdent(d.rule.DB) + "." + quoteIdent(OffsetsTable)
}

// ensureOffsetsTable creates the offsets table in the rule's database.
func (d *flushDB) ensureOffsetsTable(ctx context.Context) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.Execute("CREATE TABLE IF NOT EXISTS " + d.offsetsTable() + ` (
  stream VARBINARY(512) NOT NULL PRIMARY KEY COMMENT 'write_behind.stream',
  last_id VARCHAR(64) NOT NULL COMMENT 'last stream entry ID applied',
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB COMMENT='cachesync write-behind: written first in every flush transaction'`)
	if err != nil {
		d.reset()
		return fmt.Errorf("creating %s (the flusher's user needs CREATE, SELECT, INSERT, UPDATE on it): %w", d.offsetsTable(), err)
	}
	return nil
}

// storedID reads the stream's last applied ID and locks its row until
// COMMIT, so two flushers can never both apply one entry.
func (d *flushDB) storedID(c *client.Conn, stream string) (string, error) {
	r, err := c.Execute("SELECT last_id FROM "+d.offsetsTable()+" WHERE stream = ? FOR UPDATE", stream)
	if err != nil {
		return "", fmt.Errorf("reading the last applied ID of stream %s from %s: %w", stream, d.offsetsTable(), err)
	}
	if r.RowNumber() == 0 {
		return "0-0", nil
	}
	return r.GetString(0, 0)
}

func (d *flushDB) saveID(c *client.Conn, stream, id string) error {
	_, err := c.Execute("INSERT INTO "+d.offsetsTable()+" (stream, last_id) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_id = VALUES(last_id)", stream, id)
	if err != nil {
		return fmt.Errorf("recording entry %s of stream %s in %s: %w", id, stream, d.offsetsTable(), err)
	}
	return nil
}

// schema returns a table's columns and primary key (nil when the table does
// not exist), from the cache unless reload.
func (d *flushDB) schema(c *client.Conn, db, table string, reload bool) (*tableSchema, error) {
	name := db + "." + table
	if t, ok := d.schemas[name]; ok && !reload {
		return t, nil
	}
	r, err := c.Execute("SELECT COLUMN_NAME, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", db, table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", name, err)
	}
	if r.RowNumber() == 0 {
		d.schemas[name] = nil
		return nil, nil
	}
	t := &tableSchema{db: db, name: table, cols: map[string]string{}}
	for i := range r.RowNumber() {
		col, _ := r.GetString(i, 0)
		key, _ := r.GetString(i, 1)
		t.cols[strings.ToLower(col)] = col
		if key == "PRI" {
			t.pk = append(t.pk, col)
		}
	}
	if len(t.pk) == 0 {
		d.log.Error("write-behind table has no primary key: its entries are dead-lettered", zap.String("table", name))
	}
	d.schemas[name] = t
	return t, nil
}

// mysqlCode finds the server error code in err's chain (0 if none); go-mysql
// wraps with pingcap/errors, which hides the chain from errors.As sometimes.
func mysqlCode(err error) uint16 {
	var me *mysql.MyError
	if errors.As(err, &me) || errors.As(pingcaperrors.Cause(err), &me) {
		return me.Code
	}
	return 0
}

// isRowError reports whether err is about the values of one row (so the
// row's entries are poison) rather than about the server or the connection.
func isRowError(err error) bool {
	switch mysqlCode(err) {
	case mysql.ER_BAD_NULL_ERROR, mysql.ER_DUP_ENTRY, mysql.ER_WARN_DATA_OUT_OF_RANGE, mysql.WARN_DATA_TRUNCATED,
		mysql.ER_TRUNCATED_WRONG_VALUE, mysql.ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, mysql.ER_DATA_TOO_LONG,
		mysql.ER_NO_REFERENCED_ROW_2, mysql.ER_ROW_IS_REFERENCED_2, mysql.ER_NO_DEFAULT_FOR_FIELD,
		mysql.ER_BAD_FIELD_ERROR, mysql.ER_WRONG_VALUE_FOR_VAR, mysql.ER_DIVISION_BY_ZERO,
		3140, 4025, 4078: // invalid JSON, CHECK constraint (MariaDB), illegal value
		return true
	}
	return false
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
