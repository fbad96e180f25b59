package config

import "strings"

// expansion is the result of replacing ${VAR} references in one value.
type expansion struct {
	value   string
	changed bool     // value differs from the text as written
	fromEnv bool     // at least one variable was substituted
	errs    []string // one message per bad reference; never holds a variable's value
}

// expandVars replaces ${NAME} with the variable's value and $${ with a
// literal ${. A lone $ (or $$ not followed by {) stays as written, so
// passwords full of dollars need no escaping. Values are inserted verbatim:
// they are not parsed again, so a value containing ${ is not expanded twice.
func expandVars(s string, getenv func(string) (string, bool)) expansion {
	if !strings.Contains(s, "${") {
		return expansion{value: s}
	}
	var b strings.Builder
	var x expansion
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				x.errs = append(x.errs, `"${" is not closed: write ${NAME}, or $${ for a literal ${`)
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+2+end]
			i += 2 + end + 1
			x.substitute(&b, name, getenv)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	x.value = b.String()
	x.changed = x.value != s
	return x
}

func (x *expansion) substitute(b *strings.Builder, name string, getenv func(string) (string, bool)) {
	if !validVarName(name) {
		x.errs = append(x.errs, `"${`+name+`}" is not a variable reference: a name is letters, digits and _ `+
			`(defaults like ${A:-x} are not supported); write $${ for a literal ${`)
		return
	}
	v, ok := getenv(name)
	if !ok {
		x.errs = append(x.errs, "environment variable "+name+" is not set: export it, or write $${ for a literal ${")
		return
	}
	x.fromEnv = true
	b.WriteString(v)
}

func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
