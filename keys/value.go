package keys

import (
	"fmt"
	"strconv"

	"github.com/go-mysql-org/go-mysql/schema"
)

// AppendValue appends the key text of one column value to dst. The rule is
// "what the MySQL text protocol shows for SELECT col", because that is what
// the application had in hand when it built the key:
//
//	integers        decimal, unsigned columns without sign ("18446744073709551615")
//	DECIMAL         exact digits with the column's scale ("12.50", "-0.01")
//	FLOAT/DOUBLE    shortest round-trip digits, never an exponent ("0.1", "1000000")
//	CHAR/VARCHAR/TEXT, BINARY/VARBINARY/BLOB   the stored bytes, unchanged
//	DATE            "2026-11-26"
//	DATETIME/TIMESTAMP  "2026-11-26 10:00:00" plus the column's fractional digits; TIMESTAMP in UTC
//	TIME            "-838:59:59", "10:00:00.5" with the column's fractional digits
//	YEAR            "2026"
//	ENUM            the member name; SET the member names joined by ","
//	BIT             the unsigned integer value ("5" for b'101')
//	JSON            the server's canonical JSON text
//
// ok is false for NULL: the key is skipped, never rendered as "" or "<nil>".
func AppendValue(dst []byte, col *schema.TableColumn, v any) (out []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return dst, false
	case string:
		return append(dst, x...), true
	case []byte:
		return append(dst, x...), true
	case int8:
		if isUnsigned(col) {
			return strconv.AppendUint(dst, uint64(uint8(x)), 10), true
		}
		return appendInt(dst, col, int64(x)), true
	case int16:
		if isUnsigned(col) {
			return strconv.AppendUint(dst, uint64(uint16(x)), 10), true
		}
		return appendInt(dst, col, int64(x)), true
	case int32:
		if isUnsigned(col) && col.Type == schema.TYPE_MEDIUM_INT {
			return strconv.AppendUint(dst, uint64(uint32(x)&0xffffff), 10), true
		}
		if isUnsigned(col) {
			return strconv.AppendUint(dst, uint64(uint32(x)), 10), true
		}
		return appendInt(dst, col, int64(x)), true
	case int64:
		return appendInt(dst, col, x), true
	case int:
		return appendInt(dst, col, int64(x)), true
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case float32:
		return strconv.AppendFloat(dst, float64(x), 'f', -1, 32), true
	case float64:
		return strconv.AppendFloat(dst, x, 'f', -1, 64), true
	case fmt.Stringer: // decimal.Decimal and time values, should a decoder option produce them
		return append(dst, x.String()...), true
	}
	return fmt.Appendf(dst, "%v", v), true
}

// isUnsigned reports an unsigned integer column whose values may still come
// signed at their own width: rows decoded from a table map (a dropped
// table) do not pass canal's unsigned conversion. Sign-extending them
// first would print 255 as 18446744073709551615.
func isUnsigned(col *schema.TableColumn) bool {
	return col != nil && col.IsUnsigned && col.Type != schema.TYPE_ENUM && col.Type != schema.TYPE_SET && col.Type != schema.TYPE_BIT
}

// appendInt handles the integer encodings that are not plain numbers:
// ENUM indexes, SET bitmaps, and BIT (decoded as int64 but unsigned by nature).
func appendInt(dst []byte, col *schema.TableColumn, n int64) []byte {
	if col == nil {
		return strconv.AppendInt(dst, n, 10)
	}
	switch col.Type {
	case schema.TYPE_ENUM:
		// Index 0 is the "" error member MySQL stores for invalid values.
		if n >= 1 && int(n) <= len(col.EnumValues) {
			return append(dst, col.EnumValues[n-1]...)
		}
		return dst
	case schema.TYPE_SET:
		first := true
		for i, name := range col.SetValues {
			if i < 64 && uint64(n)&(1<<uint(i)) != 0 {
				if !first {
					dst = append(dst, ',')
				}
				dst = append(dst, name...)
				first = false
			}
		}
		return dst
	case schema.TYPE_BIT:
		return strconv.AppendUint(dst, uint64(n), 10)
	}
	if col.IsUnsigned && n < 0 { // canal converts most unsigned values; be safe for the rest
		return strconv.AppendUint(dst, uint64(n), 10)
	}
	return strconv.AppendInt(dst, n, 10)
}
