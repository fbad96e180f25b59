package backfill

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/source"
)

// Values must reach the key renderer in the Go types go-mysql's binlog
// decoder (plus canal's unsigned fix-up) gives the tailer, or keys would
// differ from the ones the tailer deletes. The queries use the binary
// protocol (prepared statements), which carries numbers exactly, and ask
// the server for a form that matches the binlog where the two differ:
//
//	TINYINT … BIGINT, YEAR   as is: int64 / uint64 by the UNSIGNED flag
//	FLOAT, DOUBLE            as is: the exact IEEE bits (float32 / float64);
//	                         the text protocol would round FLOAT and print 1e20
//	DECIMAL                  as is: the server's text with the column's scale
//	ENUM, SET                col+0: the member index / bitmap the binlog holds,
//	                         named by the same schema the tailer uses
//	BIT                      as is: big-endian bytes → the unsigned integer
//	DATE, DATETIME, TIMESTAMP, TIME  CAST(col AS CHAR): the column's fractional
//	                         digits (the binary protocol drops them); TIMESTAMP is
//	                         read in UTC and rendered in the zone the application
//	                         sees, by the Go code the binlog decoder uses (inZone);
//	                         a TIME whose fraction is all zeros loses it, as in
//	                         the binlog decoder (binlogTime)
//	CHAR … BLOB, BINARY, JSON, GEOMETRY  CAST(col AS BINARY): the stored bytes, never
//	                         converted to the connection's character set
//
// The primary key is selected a second time, as is, for the keyset cursor:
// those values go back to the server as parameters, so they stay in the
// connection's character set and compare in the column's collation.

// scan is the SQL of one table's backfill.
type scan struct {
	table  *schema.Table
	keys   *keys.Table
	chunk  int
	first  string // the first chunk
	next   string // every later chunk: after the cursor
	nPK    int
	pkCols []int
	loc    *time.Location // TIMESTAMP: read in UTC, rendered in this zone
}

func newScan(t *schema.Table, keys *keys.Table, where string, chunk int) *scan {
	s := &scan{table: t, keys: keys, chunk: chunk, nPK: len(t.PKColumns), pkCols: t.PKColumns}
	exprs := make([]string, 0, len(t.Columns)+len(t.PKColumns))
	for i := range t.Columns {
		used := keys.Uses(i)
		exprs = append(exprs, valueExpr(&t.Columns[i], source.QuoteIdent(t.Columns[i].Name), used))
	}
	pk := make([]string, len(t.PKColumns))
	for i, ci := range t.PKColumns {
		pk[i] = source.QuoteIdent(t.Columns[ci].Name)
		exprs = append(exprs, cursorExpr(&t.Columns[ci], pk[i]))
	}
	from := fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(exprs, ", "), source.QuoteIdent(t.Schema), source.QuoteIdent(t.Name))
	filter := ""
	if strings.TrimSpace(where) != "" {
		filter = "(" + where + "\n)" // a newline ends a trailing -- comment
	}
	if len(pk) == 0 { // no key to page by: the whole table in one query
		s.first = from + whereClause(filter)
		return s
	}
	order := fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(pk, ", "), chunk)
	s.first = from + whereClause(filter) + order
	s.next = from + whereClause(keysetCondition(pk), filter) + order
	return s
}

func whereClause(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}

func valueExpr(c *schema.TableColumn, name string, used bool) string {
	if !used {
		return "NULL" // keeps column positions; the value is not needed
	}
	switch c.Type {
	case schema.TYPE_ENUM, schema.TYPE_SET:
		return name + "+0"
	case schema.TYPE_DATE, schema.TYPE_DATETIME, schema.TYPE_TIMESTAMP, schema.TYPE_TIME:
		return "CAST(" + name + " AS CHAR)"
	case schema.TYPE_STRING, schema.TYPE_BINARY, schema.TYPE_JSON, schema.TYPE_POINT:
		return "CAST(" + name + " AS BINARY)"
	}
	return name
}

// cursorExpr selects a key column for the cursor. ENUM and SET sort by
// member number, so they page by it too.
func cursorExpr(c *schema.TableColumn, name string) string {
	if c.Type == schema.TYPE_ENUM || c.Type == schema.TYPE_SET {
		return name + "+0"
	}
	return name
}

// keysetCondition is "after the cursor" in primary-key order, spelled out
// as (a > ?) OR (a = ? AND b > ?) OR …: MariaDB's range optimizer turns that
// into ranges on the primary key, which it does not do for a row
// constructor (a, b) > (?, ?).
func keysetCondition(pk []string) string {
	var ors []string
	for i := range pk {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, pk[j]+" = ?")
		}
		ands = append(ands, pk[i]+" > ?")
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// keysetArgs expands a cursor into keysetCondition's parameters.
func keysetArgs(cursor []any) []any {
	var args []any
	for i := range cursor {
		args = append(args, cursor[:i+1]...)
	}
	return args
}

// row converts one result row into the binlog-typed image and the cursor.
func (s *scan) row(vals []mysql.FieldValue, image []any) (cursor []any) {
	for i := range s.table.Columns {
		image[i] = binlogValue(&s.table.Columns[i], &vals[i])
		if s.table.Columns[i].Type == schema.TYPE_TIMESTAMP {
			if b, ok := image[i].([]byte); ok {
				image[i] = inZone(b, s.loc)
			}
		}
	}
	cursor = make([]any, s.nPK)
	for i := range cursor {
		cursor[i] = cursorValue(&vals[len(s.table.Columns)+i])
	}
	return cursor
}

// binlogValue is v in the Go type the binlog decoder gives for column c.
func binlogValue(c *schema.TableColumn, v *mysql.FieldValue) any {
	if v.Type == mysql.FieldValueTypeNull {
		return nil
	}
	switch c.Type {
	case schema.TYPE_FLOAT:
		if strings.HasPrefix(c.RawType, "float") {
			return float32(v.AsFloat64()) // exact: the protocol widened a float32
		}
		return v.AsFloat64()
	case schema.TYPE_ENUM, schema.TYPE_SET:
		return asInt64(v) // the renderer maps it to member names, as for the binlog
	case schema.TYPE_BIT:
		var n uint64
		for _, b := range v.AsString() {
			n = n<<8 | uint64(b)
		}
		return n
	case schema.TYPE_TIME:
		return binlogTime(v.AsString())
	}
	if n, ok := number(v); ok {
		return n
	}
	return v.AsString()
}

// number is v as int64, uint64 or float64 when the protocol sent a number.
func number(v *mysql.FieldValue) (any, bool) {
	switch v.Type {
	case mysql.FieldValueTypeSigned:
		return v.AsInt64(), true
	case mysql.FieldValueTypeUnsigned:
		return v.AsUint64(), true
	case mysql.FieldValueTypeFloat:
		return v.AsFloat64(), true
	}
	return nil, false
}

// binlogTime drops an all-zero fraction from a TIME(n) value
// ("10:00:00.000" → "10:00:00"), as go-mysql's binlog decoder does
// (replication.timeFormat prints a fraction only when it is not zero), so
// both paths hand the renderer the same value; the renderer then restores
// the zeros SELECT shows, from the column's type (keys/coltype.go).
func binlogTime(s []byte) []byte {
	dot := bytes.IndexByte(s, '.')
	if dot < 0 {
		return s
	}
	for _, c := range s[dot+1:] {
		if c != '0' {
			return s
		}
	}
	return s[:dot]
}

func asInt64(v *mysql.FieldValue) int64 {
	switch v.Type {
	case mysql.FieldValueTypeSigned, mysql.FieldValueTypeUnsigned:
		return int64(v.AsUint64())
	case mysql.FieldValueTypeFloat:
		return int64(v.AsFloat64())
	}
	n, _ := strconv.ParseInt(string(v.AsString()), 10, 64)
	return n
}

// cursorValue keeps a key value in a type the client sends back as a
// parameter of the same kind; bytes are copied out of the result buffer.
func cursorValue(v *mysql.FieldValue) any {
	if n, ok := number(v); ok {
		return n
	}
	if v.Type == mysql.FieldValueTypeString {
		return string(v.AsString())
	}
	return nil
}
