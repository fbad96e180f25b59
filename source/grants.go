package source

import (
	"fmt"
	"strings"
)

// The parser of SHOW GRANTS lines, as MySQL 8 and MariaDB print them; what
// the grants mean for cachesync is in privileges.go.

// Grant is one line of SHOW GRANTS, parsed.
type Grant struct {
	Privs       []Priv // empty for a role grant
	Object      Object
	Account     string   // as printed, e.g. `cachesync`@`%`
	Roles       []string // a role grant (GRANT `r` TO ...): the roles, as printed
	GrantOption bool     // WITH GRANT OPTION
}

// Priv is one privilege of a grant: its name in upper case with single
// spaces (REPLICATION SLAVE, ALL PRIVILEGES, BACKUP_ADMIN) and, for a column
// privilege, the column list as printed ("(`id`, `email`)").
type Priv struct {
	Name    string
	Columns string
}

func (p Priv) String() string {
	if p.Columns != "" {
		return p.Name + " " + p.Columns
	}
	return p.Name
}

// Object is what a grant is ON. Kind is "" for *.*, db.* and db.table, else
// what the grant says (PROCEDURE, FUNCTION, PACKAGE, PACKAGE BODY) or
// "ACCOUNT" (PROXY ON user@host). DB and Table are the identifiers with the
// backquotes removed ("*" for a wildcard); DB keeps backslash escapes, as
// the grant tables do (`shop\_db`). Text is how REVOKE must name it.
type Object struct {
	Kind, DB, Table string
	Text            string
}

func (o Object) global() bool { return o.Kind == "" && o.DB == "*" && o.Table == "*" }

// ParseGrant parses one line of SHOW GRANTS as MariaDB 10.x and MySQL 5.7/8
// print it. ok is false for lines that grant nothing (SET DEFAULT ROLE, a
// MySQL 8 partial REVOKE), which callers skip.
func ParseGrant(line string) (g Grant, ok bool, err error) {
	toks, err := lexGrant(line)
	if err != nil {
		return Grant{}, false, err
	}
	if len(toks) == 0 || !toks[0].is("GRANT") {
		return Grant{}, false, nil
	}
	on, to := -1, -1
	outsideParens(toks, func(i int, t token) {
		switch {
		case on < 0 && to < 0 && t.is("ON"):
			on = i
		case to < 0 && t.is("TO"):
			to = i
		}
	})
	if to < 0 {
		return Grant{}, false, fmt.Errorf("no TO in %q", line)
	}
	acctEnd := accountEnd(toks, to+1)
	if acctEnd <= to+1 {
		return Grant{}, false, fmt.Errorf("no account after TO in %q", line)
	}
	g.Account = line[toks[to+1].start:toks[acctEnd-1].end]
	for i := acctEnd; i+1 < len(toks); i++ {
		if toks[i].is("GRANT") && toks[i+1].is("OPTION") {
			g.GrantOption = true
		}
	}
	if on < 0 { // GRANT role[, role] TO account
		for _, r := range splitTop(toks[1:to]) {
			if len(r) > 0 {
				g.Roles = append(g.Roles, line[r[0].start:r[len(r)-1].end])
			}
		}
		if len(g.Roles) == 0 {
			return Grant{}, false, fmt.Errorf("neither a privilege nor a role before TO in %q", line)
		}
		return g, true, nil
	}
	for _, p := range splitTop(toks[1:on]) {
		var words []string
		var cols string
		for _, t := range p {
			if t.punct('(') {
				cols = line[t.start:p[len(p)-1].end]
				break
			}
			if t.kind != tokWord {
				return Grant{}, false, fmt.Errorf("unexpected %q in the privilege list of %q", t.text, line)
			}
			words = append(words, strings.ToUpper(t.text))
		}
		if len(words) == 0 {
			return Grant{}, false, fmt.Errorf("empty privilege in %q", line)
		}
		g.Privs = append(g.Privs, Priv{Name: strings.Join(words, " "), Columns: cols})
	}
	obj, err := parseObject(line, toks[on+1:to])
	if err != nil {
		return Grant{}, false, err
	}
	g.Object = obj
	return g, true, nil
}

func parseObject(line string, toks []token) (Object, error) {
	if len(toks) == 0 {
		return Object{}, fmt.Errorf("no object after ON in %q", line)
	}
	var o Object
	o.Text = line[toks[0].start:toks[len(toks)-1].end]
	for _, t := range toks {
		if t.punct('@') {
			o.Kind = "ACCOUNT"
			return o, nil
		}
	}
	var kind []string
	for len(toks) > 0 && toks[0].kind == tokWord && isObjectKind(toks[0].text) {
		kind = append(kind, strings.ToUpper(toks[0].text))
		toks = toks[1:]
	}
	if k := strings.Join(kind, " "); k != "TABLE" {
		o.Kind = k
	}
	name := func(t token) (string, bool) {
		switch {
		case t.punct('*'):
			return "*", true
		case t.kind == tokIdent || t.kind == tokWord:
			return t.text, true
		}
		return "", false
	}
	switch {
	case len(toks) == 3 && toks[1].punct('.'):
		db, ok1 := name(toks[0])
		tbl, ok2 := name(toks[2])
		if !ok1 || !ok2 || (db == "*" && toks[0].kind == tokPunct && tbl != "*") {
			return Object{}, fmt.Errorf("cannot read the object of %q", line)
		}
		o.DB, o.Table = db, tbl
	case len(toks) == 1: // `*` or a bare table of the current database
		n, ok := name(toks[0])
		if !ok {
			return Object{}, fmt.Errorf("cannot read the object of %q", line)
		}
		o.DB, o.Table = "*", n
		if n == "*" {
			o.Text = "*.*"
		}
	default:
		return Object{}, fmt.Errorf("cannot read the object of %q", line)
	}
	return o, nil
}

func isObjectKind(w string) bool {
	switch strings.ToUpper(w) {
	case "TABLE", "PROCEDURE", "FUNCTION", "PACKAGE", "BODY":
		return true
	}
	return false
}

// accountEnd returns the index after user[@host] starting at i.
func accountEnd(toks []token, i int) int {
	if i >= len(toks) || toks[i].kind == tokPunct {
		return i
	}
	i++
	if i+1 < len(toks) && toks[i].punct('@') && toks[i+1].kind != tokPunct {
		i += 2
	}
	return i
}

// splitTop splits toks at commas outside parentheses.
func splitTop(toks []token) [][]token {
	var out [][]token
	start := 0
	outsideParens(toks, func(i int, t token) {
		if t.punct(',') {
			out = append(out, toks[start:i])
			start = i + 1
		}
	})
	return append(out, toks[start:])
}

// outsideParens calls visit with each token that is not a parenthesis and
// not inside parentheses, with its index.
func outsideParens(toks []token, visit func(i int, t token)) {
	depth := 0
	for i, t := range toks {
		switch {
		case t.punct('('):
			depth++
		case t.punct(')'):
			depth--
		case depth == 0:
			visit(i, t)
		}
	}
}

type tokKind int

const (
	tokWord  tokKind = iota // unquoted: GRANT, SELECT, BACKUP_ADMIN, shop
	tokIdent                // `quoted`, 'quoted' or "quoted": text is unquoted
	tokPunct                // one of , . ( ) * @ and anything else
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the line
}

func (t token) is(word string) bool { return t.kind == tokWord && strings.EqualFold(t.text, word) }
func (t token) punct(c byte) bool   { return t.kind == tokPunct && t.text == string(c) }

// lexGrant splits a SHOW GRANTS line into words, quoted names (a doubled
// quote inside is one quote; backslashes are kept as written) and
// punctuation.
func lexGrant(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated %c in %q", c, s)
				}
				if s[j] == '\\' && c != '`' && j+1 < len(s) {
					b.WriteString(s[j : j+2])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: b.String(), start: i, end: j + 1})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tokWord, text: s[i:j], start: i, end: j})
			i = j
		default:
			toks = append(toks, token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
