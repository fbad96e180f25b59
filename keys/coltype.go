package keys

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/schema"
)

// Where go-mysql's decoded values differ from what SELECT shows, the
// difference is fixed at compile time from the column's type, once per
// schema, not per row.

// timeFsp returns n for a TIME(n) column with n > 0: the binlog decoder
// drops an all-zero fraction ("10:00:00"), SELECT shows "10:00:00.000".
func timeFsp(c *schema.TableColumn) int {
	if c.Type != schema.TYPE_TIME {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(strings.ToLower(c.RawType), "time(%d)", &n); err != nil {
		return 0
	}
	return n
}

// isYear reports a YEAR column: the decoder gives 0 for the zero year,
// SELECT shows "0000".
func isYear(c *schema.TableColumn) bool {
	return strings.HasPrefix(strings.ToLower(c.RawType), "year")
}

// fixMembers returns a copy of an ENUM or SET column whose member list is
// parsed from its SQL type with quoting respected: go-mysql splits on every
// comma, so ENUM('x,y','it”s') would name the wrong members. nil when the
// column needs no fix.
func fixMembers(c *schema.TableColumn) *schema.TableColumn {
	if c.Type != schema.TYPE_ENUM && c.Type != schema.TYPE_SET {
		return nil
	}
	open := strings.IndexByte(c.RawType, '(')
	if open < 0 {
		return nil
	}
	members, ok := parseMembers(c.RawType[open+1:])
	if !ok {
		return nil
	}
	fixed := *c
	if c.Type == schema.TYPE_ENUM {
		fixed.EnumValues = members
	} else {
		fixed.SetValues = members
	}
	return &fixed
}

// parseMembers reads 'a','b”c','d\'e') — the list after "enum(" — into
// its members. MySQL doubles a quote inside a member; backslash escapes are
// accepted too.
func parseMembers(s string) ([]string, bool) {
	var out []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			return nil, false
		}
		var b strings.Builder
		i++
		for {
			if i >= len(s) {
				return nil, false
			}
			switch {
			case s[i] == '\\' && i+1 < len(s):
				b.WriteByte(s[i+1])
				i += 2
				continue
			case s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
				b.WriteByte('\'')
				i += 2
				continue
			case s[i] == '\'':
				i++
			default:
				b.WriteByte(s[i])
				i++
				continue
			}
			break
		}
		out = append(out, b.String())
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		if i < len(s) && s[i] == ')' {
			return out, true
		}
		return nil, false
	}
	return nil, false
}
