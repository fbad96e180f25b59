package config

import (
	"regexp"
	"strings"
)

// Name matching
//
// Database and table names match case-sensitively, byte for byte, both in
// Matches and in TableRegex. That is how MySQL and MariaDB compare them on
// Linux (lower_case_table_names=0, the default there), and the binlog carries
// each name exactly as stored. Folding case would let one rule fire for two
// distinct tables ("Users" and "users") whose columns may differ; on a server
// with lower_case_table_names=1 the binlog names are lower case, so rules
// should be written in lower case there. A rule that matches no table is
// reported by `cachesync config check --online`, so a wrong case shows up at
// startup instead of as a stale cache.
//
// In the table part, * matches any run of characters (including none) and ?
// exactly one character; nothing else is special. The database part is always
// literal.

// splitTable splits "db.table" at the first dot: the database part of a rule
// is never a pattern, and the table part may itself contain dots.
func splitTable(s string) (db, table string, ok bool) {
	return strings.Cut(s, ".")
}

// names returns the database and table pattern, from the fields Validate
// fills or, for a Rule built in Go without Validate, from Table.
func (r *Rule) names() (db, glob string) {
	if r.DB != "" || r.TableGlob != "" {
		return r.DB, r.TableGlob
	}
	db, glob, _ = splitTable(r.Table)
	return db, glob
}

// Matches reports whether the rule applies to db.table.
func (r *Rule) Matches(db, table string) bool {
	rdb, glob := r.names()
	return db == rdb && globMatch(glob, table)
}

// TableRegex is an anchored regexp over "db.table" matching exactly the
// tables Matches accepts, for go-mysql canal's IncludeTableRegex (which
// filters before rows are decoded).
func (r *Rule) TableRegex() string {
	db, glob := r.names()
	var b strings.Builder
	b.WriteString(`(?s)^`) // (?s): '.' must match any character, as '?' does
	b.WriteString(regexp.QuoteMeta(db))
	b.WriteString(`\.`)
	lit := 0
	for i := 0; i < len(glob); i++ {
		if glob[i] != '*' && glob[i] != '?' {
			continue
		}
		b.WriteString(regexp.QuoteMeta(glob[lit:i]))
		if glob[i] == '*' {
			b.WriteString(`.*`)
		} else {
			b.WriteString(`.`)
		}
		lit = i + 1
	}
	b.WriteString(regexp.QuoteMeta(glob[lit:]))
	b.WriteString(`$`)
	return b.String()
}

// RulesFor returns every rule that applies to db.table, in file order;
// several rules may match one table and all of them apply.
func (c *Config) RulesFor(db, table string) []*Rule {
	var out []*Rule
	for i := range c.Rules {
		if c.Rules[i].Matches(db, table) {
			out = append(out, &c.Rules[i])
		}
	}
	return out
}

// isGlob reports whether a table part is a pattern rather than one name.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?") }

// globMatch matches a rule's table pattern: * any run, ? one character.
func globMatch(pattern, name string) bool {
	return Wildcards{Many: '*', One: '?'}.Match(pattern, name)
}
