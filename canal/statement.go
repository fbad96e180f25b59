package canal

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cachesync/cachesync/config"
)

// A statement in the binlog (binlog_format STATEMENT or MIXED, set after
// start-up, or a session's own SET binlog_format) changes rows without row
// events: cachesync cannot know their keys. These functions tell, from the
// statement's text, whether it may have changed a mapped table.

// dmlVerbs start a statement that changes rows. SELECT, DO and CALL are in
// the binlog only when they call a stored function or procedure that
// writes; WITH starts MySQL 8's UPDATE/DELETE with a CTE.
var dmlVerbs = []string{"INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "WITH", "SELECT", "DO", "CALL"}

// stmtEffect is what a statement may have changed.
type stmtEffect struct {
	dml bool
	// tables are the mapped tables (db.table) the statement names.
	tables []string
	// unnamed: the statement changes rows through code (SELECT f(), DO,
	// CALL) whose tables its text does not show; every mapped table of
	// schema may have changed.
	unnamed bool
	schema  string
}

// classifyStatement reads one binlog query event's text. schema is the
// session's default database ("" when none). It errs on the side of
// "affects a mapped table": a name in the text that could be a mapped table
// counts, whatever its role in the statement (triggers and views that write
// a mapped table through another name are not seen; see README).
func classifyStatement(query, schema string, rules []*config.Rule) stmtEffect {
	query = skipSpaceAndComments(query)
	if db, rest, ok := cutUse(query); ok { // SHOW BINLOG EVENTS writes "use `db`; stmt"
		schema, query = db, skipSpaceAndComments(rest)
	}
	verb := strings.ToUpper(firstWord(query))
	eff := stmtEffect{schema: schema}
	for _, v := range dmlVerbs {
		eff.dml = eff.dml || verb == v
	}
	if !eff.dml {
		return eff
	}
	eff.unnamed = verb == "SELECT" || verb == "DO" || verb == "CALL"
	seen := map[string]bool{}
	for _, n := range tableNames(query) {
		db, table := n[0], n[1]
		if db == "" {
			db = schema
		}
		if db == "" || seen[db+"."+table] {
			continue
		}
		seen[db+"."+table] = true
		for _, r := range rules {
			if r.Matches(db, table) {
				eff.tables = append(eff.tables, db+"."+table)
				break
			}
		}
	}
	return eff
}

// affects reports whether the statement may have changed a mapped table.
func (e stmtEffect) affects(rules []*config.Rule) bool {
	if !e.dml {
		return false
	}
	if len(e.tables) > 0 {
		return true
	}
	if !e.unnamed {
		return false
	}
	if e.schema == "" {
		return true // no default database: it could be any
	}
	for _, r := range rules {
		db := r.DB
		if db == "" {
			db, _, _ = strings.Cut(r.Table, ".")
		}
		if db == e.schema {
			return true
		}
	}
	return false
}

// cutUse splits MariaDB's "use `db`; stmt" (as SHOW BINLOG EVENTS shows a
// statement run with a default database).
func cutUse(q string) (db, rest string, ok bool) {
	if len(q) < 4 || !strings.EqualFold(q[:4], "use ") {
		return "", q, false
	}
	names := tableNames(q[4:])
	semi := strings.IndexByte(q, ';')
	if len(names) == 0 || semi < 0 {
		return "", q, false
	}
	return names[0][1], q[semi+1:], true
}

func firstWord(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if i < 0 {
		return s
	}
	return s[:i]
}

// skipSpaceAndComments drops leading white space and comments (/* */, --
// and #). MySQL's executable comments (/*! ... */) are skipped too: what
// they hold is not the statement's verb.
func skipSpaceAndComments(s string) string {
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		switch {
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s[2:], "*/")
			if end < 0 {
				return ""
			}
			s = s[2+end+2:]
		case strings.HasPrefix(s, "#"), strings.HasPrefix(s, "-- "), s == "--":
			end := strings.IndexByte(s, '\n')
			if end < 0 {
				return ""
			}
			s = s[end+1:]
		default:
			return s
		}
	}
}

// tableNames lists every identifier of the statement that could name a
// table, as [db, name] ("" db when unqualified). Keywords and columns are
// listed too: the caller only keeps names that match a rule. String
// literals and comments are skipped.
func tableNames(q string) [][2]string {
	var out [][2]string
	var prev string  // the identifier just read
	var dotted bool  // a '.' follows prev
	var hasPrev bool // prev is an identifier directly before
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			i = skipQuoted(q, i, c)
			hasPrev, dotted = false, false
		case strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += 2 + end + 2
		case c == '#' || strings.HasPrefix(q[i:], "-- "):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				return out
			}
			i += end + 1
		case c == '.':
			dotted = hasPrev
			i++
		case c == '`' || isIdentByte(q, i):
			var name string
			if c == '`' {
				name, i = readBacktick(q, i)
			} else {
				start := i
				for i < len(q) && isIdentByte(q, i) {
					_, n := utf8.DecodeRuneInString(q[i:])
					i += n
				}
				name = q[start:i]
			}
			if dotted && len(out) > 0 {
				out[len(out)-1] = [2]string{prev, name} // db.table replaces the bare db
			} else {
				out = append(out, [2]string{"", name})
			}
			prev, hasPrev, dotted = name, true, false
		default:
			if !unicode.IsSpace(rune(c)) {
				hasPrev, dotted = false, false
			}
			i++
		}
	}
	return out
}

func isIdentByte(q string, i int) bool {
	r, _ := utf8.DecodeRuneInString(q[i:])
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// readBacktick reads a `quoted` identifier starting at q[i] (“ inside is `).
func readBacktick(q string, i int) (string, int) {
	var b strings.Builder
	for j := i + 1; j < len(q); j++ {
		if q[j] == '`' {
			if j+1 < len(q) && q[j+1] == '`' {
				b.WriteByte('`')
				j++
				continue
			}
			return b.String(), j + 1
		}
		b.WriteByte(q[j])
	}
	return b.String(), len(q)
}

// skipQuoted returns the index after the string literal starting at q[i].
func skipQuoted(q string, i int, quote byte) int {
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			j++
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}
