package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Part is one piece of a key template.
type Part struct {
	Literal string // copied into the key as is
	Column  string // the column whose value goes here; "" means the part is Literal
}

// Template is a parsed key template such as "user:{{{id}}}" (→ "user:{42}").
// {column} takes the column's value; {{ and }} are literal braces, which is
// how Redis Cluster hash tags are written; everything else is literal.
// Parts never holds two literals in a row nor an empty literal, so two
// templates that render the same keys have equal Parts.
type Template struct {
	Raw   string // as written in the config
	Parts []Part
}

// TemplateError says what is wrong with a template and where.
type TemplateError struct {
	Template string // the template as written
	Offset   int    // byte offset of the problem in Template
	Msg      string // what is wrong and what to write instead
}

// Char is the 1-based character position of the problem, as an editor counts it.
func (e *TemplateError) Char() int { return utf8.RuneCountInString(e.Template[:e.Offset]) + 1 }

func (e *TemplateError) Error() string {
	return fmt.Sprintf("key template %q, character %d: %s", e.Template, e.Char(), e.Msg)
}

// ParseTemplate parses a key template. A template that cannot be parsed is
// an error, never a template yielding an empty or partial key: deleting the
// wrong key would leave the real one stale.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{Raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.Parts = append(t.Parts, Part{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			lit.WriteByte('{')
			i += 2
		case strings.HasPrefix(s[i:], "}}"):
			lit.WriteByte('}')
			i += 2
		case s[i] == '}':
			return nil, &TemplateError{Template: s, Offset: i, Msg: `lone "}": write "}}" for a literal "}"`}
		case s[i] == '{':
			col, n, err := placeholder(s, i)
			if err != nil {
				return nil, err
			}
			flush()
			t.Parts = append(t.Parts, Part{Column: col})
			i += n
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

// placeholder reads "{column}" at s[start] and returns the column and the
// placeholder's length in bytes.
func placeholder(s string, start int) (string, int, error) {
	end := strings.IndexAny(s[start+1:], "{}")
	if end < 0 || s[start+1+end] == '{' {
		return "", 0, &TemplateError{Template: s, Offset: start,
			Msg: `"{" is not closed: write {column}, or "{{" for a literal "{"`}
	}
	name := s[start+1 : start+1+end]
	if name == "" {
		return "", 0, &TemplateError{Template: s, Offset: start,
			Msg: `empty "{}": put a column name inside, or write "{{}}" for literal braces`}
	}
	if why := checkIdentifier(name); why != "" {
		return "", 0, &TemplateError{Template: s, Offset: start + 1, Msg: fmt.Sprintf("column name %q %s", name, why)}
	}
	return name, end + 2, nil
}

// Columns lists the columns the template uses, each once, in order of first
// use. MySQL column names are case-insensitive, so {id} and {ID} are one column.
func (t *Template) Columns() []string {
	var out []string
	for _, p := range t.Parts {
		if p.Column != "" && !containsFold(out, p.Column) {
			out = append(out, p.Column)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// maxIdentifier is MySQL's limit on a column name, in characters.
const maxIdentifier = 64

// checkIdentifier accepts what MySQL accepts as an unquoted identifier
// (letters, digits, _ and $, plus U+0080..U+FFFF, at most 64 characters,
// not only digits) and otherwise says why not. Names that need backquotes in
// SQL are not supported in templates; they are rare in cached tables.
func checkIdentifier(name string) string {
	if name == "" {
		return "is empty"
	}
	if utf8.RuneCountInString(name) > maxIdentifier {
		return "is longer than 64 characters, the MySQL limit"
	}
	digits := true
	for i, r := range name {
		if r == utf8.RuneError && !strings.HasPrefix(name[i:], "\uFFFD") {
			return "is not valid UTF-8"
		}
		if !identRune(r) {
			return fmt.Sprintf("has %q, which a column name cannot have (use letters, digits, _ and $)", r)
		}
		digits = digits && r >= '0' && r <= '9'
	}
	if digits {
		return "is only digits, which MySQL does not accept as a column name"
	}
	return ""
}

func identRune(r rune) bool {
	return r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
		r >= '0' && r <= '9' || r >= 0x80 && r <= 0xFFFF
}

// braceEscaper doubles the braces of a literal part; it is never modified.
var braceEscaper = strings.NewReplacer("{", "{{", "}", "}}")

// syntax writes the template back in template syntax, escaping braces in
// literals; with fold, column names are lower-cased as MySQL compares them.
func (t *Template) syntax(fold bool) string {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Column == "" {
			b.WriteString(braceEscaper.Replace(p.Literal))
			continue
		}
		col := p.Column
		if fold {
			col = strings.ToLower(col)
		}
		b.WriteString("{" + col + "}")
	}
	return b.String()
}
