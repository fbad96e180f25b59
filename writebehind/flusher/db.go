package flusher

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
	"github.com/cachesync/cachesync/writebehind"
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

// The offsets row's columns, as the contract names them.
const (
	colStream = writebehind.OffsetsStream
	colLastID = writebehind.OffsetsLastID
	colToken  = writebehind.OffsetsLeaseToken
)

func (d *flushDB) offsetsTable() string {
	return source.QuoteIdent(d.rule.DB) + "." + source.QuoteIdent(writebehind.OffsetsTable)
}

// ensureOffsetsTable creates the offsets table in the rule's database, and
// adds its lease token column to one created by an older cachesync (ALTER,
// once).
func (d *flushDB) ensureOffsetsTable(ctx context.Context) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.Execute(writebehind.OffsetsDDL(d.offsetsTable()))
	if err != nil {
		d.reset()
		return fmt.Errorf("creating %s (the flusher's user needs CREATE, SELECT, INSERT, UPDATE on it): %w", d.offsetsTable(), err)
	}
	r, err := c.Execute("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
		d.rule.DB, writebehind.OffsetsTable, writebehind.OffsetsLeaseToken)
	if err != nil {
		d.reset()
		return fmt.Errorf("reading the columns of %s: %w", d.offsetsTable(), err)
	}
	if n, _ := r.GetInt(0, 0); n > 0 {
		return nil
	}
	// MySQL 8 has no ADD COLUMN IF NOT EXISTS; a flusher migrating at the
	// same moment makes this one fail with a duplicate column, which is done.
	_, err = c.Execute("ALTER TABLE " + d.offsetsTable() + " ADD COLUMN " + writebehind.LeaseTokenDefinition)
	if err != nil && source.ErrorCode(err) != mysql.ER_DUP_FIELDNAME {
		d.reset()
		return fmt.Errorf("adding column %s to %s, created by an older cachesync (grant ALTER on it once, or run ALTER TABLE %s ADD COLUMN %s): %w",
			writebehind.OffsetsLeaseToken, d.offsetsTable(), d.offsetsTable(), writebehind.LeaseTokenDefinition, err)
	}
	return nil
}

// offsets reads the stream's last applied ID and the fencing token of the
// flusher that wrote it, and locks the row until COMMIT, so two flushers can
// never both apply one entry.
func (d *flushDB) offsets(c *client.Conn, stream string) (id string, token uint64, err error) {
	r, err := c.Execute("SELECT "+colLastID+", "+colToken+" FROM "+d.offsetsTable()+" WHERE "+colStream+" = ? FOR UPDATE", stream)
	if err != nil {
		return "", 0, fmt.Errorf("reading the last applied ID of stream %s from %s: %w", stream, d.offsetsTable(), err)
	}
	if r.RowNumber() == 0 {
		return "0-0", 0, nil
	}
	id, _ = r.GetString(0, 0)
	token, _ = r.GetUint(0, 1)
	return id, token, nil
}

func (d *flushDB) saveID(c *client.Conn, stream, id string, token uint64) error {
	_, err := c.Execute("INSERT INTO "+d.offsetsTable()+" ("+colStream+", "+colLastID+", "+colToken+") VALUES (?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE "+colLastID+" = VALUES("+colLastID+"), "+colToken+" = VALUES("+colToken+")",
		stream, id, token)
	if err != nil {
		return fmt.Errorf("recording entry %s of stream %s in %s: %w", id, stream, d.offsetsTable(), err)
	}
	return nil
}

// fence records token in the stream's offsets row, so from its COMMIT on
// every flush transaction of an older lease holder is refused. It fails with
// errFenced when a newer holder's token is already there.
func (d *flushDB) fence(ctx context.Context, stream string, token uint64) error {
	err := d.fenceOnce(ctx, stream, token)
	if err != nil {
		d.reset() // a connection in an unknown state is not reused; the server rolls back
	}
	return err
}

func (d *flushDB) fenceOnce(ctx context.Context, stream string, token uint64) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	if err := c.Begin(); err != nil {
		return fmt.Errorf("BEGIN: %w", err)
	}
	_, stored, err := d.offsets(c, stream)
	if err != nil {
		return err
	}
	if stored > token {
		return fenced(c, stream, token, stored)
	}
	if _, err := c.Execute("INSERT INTO "+d.offsetsTable()+" ("+colStream+", "+colLastID+", "+colToken+") VALUES (?, '0-0', ?)"+
		" ON DUPLICATE KEY UPDATE "+colToken+" = VALUES("+colToken+")",
		stream, token); err != nil {
		return fmt.Errorf("recording the lease token of stream %s in %s: %w", stream, d.offsetsTable(), err)
	}
	if err := c.Commit(); err != nil {
		return fmt.Errorf("COMMIT of the lease token of stream %s: %w", stream, err)
	}
	return nil
}

// fencedError is errFenced with the tokens compared.
type fencedError struct {
	stream       string
	mine, stored uint64
}

func (e *fencedError) Error() string {
	return fmt.Sprintf("%v: stream %s, this flusher's token %d, stored %d", errFenced, e.stream, e.mine, e.stored)
}

func (e *fencedError) Unwrap() error { return errFenced }

// fenced rolls back and returns the permanent errFenced.
func fenced(c *client.Conn, stream string, token, stored uint64) error {
	if err := rollback(c); err != nil {
		return err
	}
	return retry.MarkPermanent(&fencedError{stream: stream, mine: token, stored: stored})
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

// isRowError reports whether err is about the values of one row (so the
// row's entries are poison) rather than about the server or the connection.
func isRowError(err error) bool {
	switch source.ErrorCode(err) {
	case mysql.ER_BAD_NULL_ERROR, mysql.ER_DUP_ENTRY, mysql.ER_WARN_DATA_OUT_OF_RANGE, mysql.WARN_DATA_TRUNCATED,
		mysql.ER_TRUNCATED_WRONG_VALUE, mysql.ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, mysql.ER_DATA_TOO_LONG,
		mysql.ER_NO_REFERENCED_ROW_2, mysql.ER_ROW_IS_REFERENCED_2, mysql.ER_NO_DEFAULT_FOR_FIELD,
		mysql.ER_BAD_FIELD_ERROR, mysql.ER_WRONG_VALUE_FOR_VAR, mysql.ER_DIVISION_BY_ZERO,
		3140, 4025, 4078: // invalid JSON, CHECK constraint (MariaDB), illegal value
		return true
	}
	return false
}
