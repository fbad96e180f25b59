package keys

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/config"
)

// Value is what a write-through rule (action: set) stores for a row,
// compiled against one version of the table's schema. Every column renders
// by one mapping, the key renderer's (AppendValue: the text SELECT shows on
// a utf8mb4 connection, DECIMAL with its exact scale, DATETIME/TIMESTAMP as
// "2026-11-26 10:00:00.120" with TIMESTAMP in source.time_zone, TIME, YEAR,
// ENUM/SET names, BIT as an integer, JSON as the server's text), with two
// differences a value needs and a key does not:
//
//	binary columns (BINARY, VARBINARY, BLOB types, geometry)  standard base64 with padding
//	NULL            JSON null in a json value; the field left out of a hash value
//
// In a json value every other column is a JSON string (never a number, so
// a BIGINT UNSIGNED or a DECIMAL(30,10) reaches JavaScript readers exactly);
// text is UTF-8, 4-byte characters included, byte for byte.
type Value struct {
	cols    []valueCol
	hash    bool
	missing []string // value columns the table does not have
}

type valueCol struct {
	name   string // as the rule writes it: the JSON member or hash field
	p      part
	binary bool
}

// CompileValue binds a set rule's value columns to t's columns. A column t
// does not have (dropped by a DDL) is listed by Missing and makes every
// render fail, so the key is invalidated instead of written without it.
func CompileValue(t *schema.Table, v *config.ValueConfig) *Value {
	out := &Value{hash: v.IsHash()}
	for _, name := range v.Columns() {
		i := ColumnIndex(t, name)
		if i < 0 {
			out.missing = append(out.missing, name)
			continue
		}
		p, _ := columnPart(t, i) // an unknown charset is reported by the key templates' compile
		out.cols = append(out.cols, valueCol{name: name, p: p, binary: isBinary(&t.Columns[i])})
	}
	return out
}

// Missing names the value columns the table does not have.
func (v *Value) Missing() []string { return v.missing }

// IsHash reports a hash value (else a JSON string).
func (v *Value) IsHash() bool { return v.hash }

// isBinary reports a column whose bytes are not text.
func isBinary(c *schema.TableColumn) bool {
	switch c.Type {
	case schema.TYPE_BINARY, schema.TYPE_POINT:
		return true
	case schema.TYPE_STRING:
		raw := strings.ToLower(c.RawType)
		return strings.Contains(raw, "blob") || strings.EqualFold(c.Collation, "binary") ||
			strings.Contains(raw, "geometry") || strings.Contains(raw, "linestring") || strings.Contains(raw, "polygon")
	}
	return false
}

// column renders one value column of row into dst: null for SQL NULL, ok
// false when the row image does not carry it (or the column is missing).
func (v *Value) column(t *schema.Table, c *valueCol, row []any, dst []byte) (out []byte, null, ok bool) {
	if c.p.col >= len(row) {
		return dst, false, false
	}
	switch row[c.p.col].(type) {
	case nil:
		return dst, true, true
	case Absent:
		return dst, false, false
	}
	n := len(dst)
	dst, ok = c.p.appendColumn(t, row, dst)
	if !ok {
		return dst, false, false
	}
	if c.binary {
		raw := append([]byte(nil), dst[n:]...)
		dst = base64.StdEncoding.AppendEncode(dst[:n], raw)
	}
	return dst, false, true
}

// AppendJSON appends the row's value as a JSON object, members in the
// rule's order. ok is false when a column is missing from the table or the
// row image: the caller invalidates the key instead.
func (v *Value) AppendJSON(t *schema.Table, row []any, dst, scratch []byte) (out, scratchOut []byte, ok bool) {
	if len(v.missing) > 0 {
		return dst, scratch, false
	}
	dst = append(dst, '{')
	for i := range v.cols {
		c := &v.cols[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.name)
		dst = append(dst, ':')
		var null bool
		scratch, null, ok = v.column(t, c, row, scratch[:0])
		switch {
		case !ok:
			return dst, scratch, false
		case null:
			dst = append(dst, "null"...)
		default:
			dst = appendJSONString(dst, string(scratch))
		}
	}
	return append(dst, '}'), scratch, true
}

// AppendFields appends field, value, field, value… of a hash value to dst
// (a NULL column's field is left out). ok as for AppendJSON.
func (v *Value) AppendFields(t *schema.Table, row []any, dst []string) ([]string, bool) {
	if len(v.missing) > 0 {
		return dst, false
	}
	var buf []byte
	for i := range v.cols {
		c := &v.cols[i]
		var null, ok bool
		buf, null, ok = v.column(t, c, row, buf[:0])
		if !ok {
			return dst, false
		}
		if !null {
			dst = append(dst, c.name, string(buf))
		}
	}
	return dst, true
}

// appendJSONString appends s as a JSON string: UTF-8 kept as is (4-byte
// characters too), quotes, backslashes and control characters escaped, a
// byte that is not UTF-8 replaced by U+FFFD (JSON text must be UTF-8).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case b < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
