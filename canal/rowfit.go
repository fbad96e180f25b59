package canal

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/schema"
)

// go-mysql canal hands the handler decoded rows and the schema it decoded
// them with, but not the binlog's table map. The Go type of each decoded
// value follows the table map's column type (width and class), so checking
// it against the schema's column type finds a schema that no longer
// matches the rows — a reorder, a type change, a stale seed — even when the
// column count is the same. Same-typed columns that swapped places are not
// seen here; DDL that canal cannot parse is caught by the GTID event's DDL
// flag instead (see handler.unparsedDDL).

// valueKind is the class of Go value the binlog decoder gives a column.
type valueKind uint8

const (
	kindAny     valueKind = iota // unknown to this check
	kindInt8                     // TINYINT
	kindInt16                    // SMALLINT
	kindInt32                    // MEDIUMINT, INT
	kindInt64                    // BIGINT
	kindYear                     // YEAR: int
	kindFloat32                  // FLOAT
	kindFloat64                  // DOUBLE
	kindDecimal                  // DECIMAL: string (or a decimal type)
	kindBits                     // ENUM index, SET and BIT bitmaps: int64
	kindString                   // CHAR, VARCHAR, BINARY, VARBINARY
	kindBytes                    // TEXT and BLOB types
	kindTime                     // DATE, TIME, DATETIME, TIMESTAMP: string
)

// kindOf reads the column's SQL type as SHOW FULL COLUMNS gives it.
func kindOf(c *schema.TableColumn) valueKind {
	t := strings.ToLower(c.RawType)
	// Types named by how they start ("int(11) unsigned"), then those named
	// by how they end (tinytext, longblob) and the temporal ones.
	prefixes := [...]struct {
		prefix string
		kind   valueKind
	}{
		{"tinyint", kindInt8},
		{"smallint", kindInt16},
		{"mediumint", kindInt32},
		{"int", kindInt32},
		{"bigint", kindInt64},
		{"year", kindYear},
		{"float", kindFloat32},
		{"double", kindFloat64},
		{"real", kindFloat64},
		{"decimal", kindDecimal},
		{"numeric", kindDecimal},
		{"enum", kindBits},
		{"set", kindBits},
		{"bit", kindBits},
		{"char", kindString},
		{"varchar", kindString},
		{"binary", kindString},
		{"varbinary", kindString},
	}
	for _, p := range prefixes {
		if strings.HasPrefix(t, p.prefix) {
			return p.kind
		}
	}
	switch {
	case strings.HasSuffix(t, "text"), strings.HasSuffix(t, "blob"):
		return kindBytes
	case t == "date", strings.HasPrefix(t, "time"), strings.HasPrefix(t, "datetime"):
		return kindTime
	}
	return kindAny
}

func fits(k valueKind, v any) bool {
	switch v.(type) {
	case nil:
		return true
	case int8, uint8:
		return k == kindInt8
	case int16, uint16:
		return k == kindInt16
	case int32, uint32:
		return k == kindInt32
	case int64:
		return k == kindInt64 || k == kindBits
	case uint64:
		return k == kindInt64
	case int, uint:
		return k == kindYear
	case float32:
		return k == kindFloat32
	case float64:
		return k == kindFloat64
	case []byte:
		return k == kindBytes
	case string:
		return k == kindString || k == kindDecimal || k == kindTime
	case time.Time:
		return k == kindTime
	case fmt.Stringer:
		return k == kindDecimal || k == kindTime
	}
	return true
}

// kindsOf is the valueKind of each column of t.
func kindsOf(t *schema.Table) []valueKind {
	kinds := make([]valueKind, len(t.Columns))
	for i := range t.Columns {
		kinds[i] = kindOf(&t.Columns[i])
	}
	return kinds
}

// misfit returns the first column of t that the rows' values cannot have
// been decoded from, or -1 when they fit.
func misfit(t *schema.Table, rows [][]any) int { return misfitKinds(kindsOf(t), rows) }

// misfit is the package misfit for rows decoded with t, with the column
// kinds of tk's schema worked out once rather than per rows event.
func (tk *tableKeys) misfit(t *schema.Table, rows [][]any) int {
	if t != tk.Schema() {
		return misfit(t, rows)
	}
	if tk.kinds == nil {
		tk.kinds = kindsOf(t)
	}
	return misfitKinds(tk.kinds, rows)
}

// misfitKinds judges each column by its first non-NULL value: one rows
// event has one table map.
func misfitKinds(kinds []valueKind, rows [][]any) int {
	if len(rows) == 0 {
		return -1
	}
	if len(rows[0]) != len(kinds) {
		return min(len(rows[0]), len(kinds))
	}
	for i, k := range kinds {
		if k == kindAny {
			continue
		}
		for _, r := range rows {
			if i < len(r) && r[i] != nil {
				if !fits(k, r[i]) {
					return i
				}
				break
			}
		}
	}
	return -1
}
