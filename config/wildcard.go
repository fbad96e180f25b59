package config

import "unicode/utf8"

// Wildcards is a pattern language of literal characters and two
// wildcards: Many matches any run of characters (none included), One
// exactly one. With Escape, a backslash makes the character after it
// literal. Rule table patterns are {'*', '?', false}; the database patterns
// of MySQL's grant tables are {'%', '_', true}.
type Wildcards struct {
	Many, One byte
	Escape    bool
}

// Match reports whether pattern matches all of name. A character is one
// UTF-8 sequence (or one invalid byte, as regexp counts it). It backtracks
// only to the last Many, so it runs in O(len(pattern)·len(name)) at worst.
func (w Wildcards) Match(pattern, name string) bool {
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			c := pattern[p]
			lit := p // where the literal character starts
			if w.Escape && c == '\\' && p+1 < len(pattern) {
				lit = p + 1
			}
			pw := runeLen(pattern[lit:])
			nw := runeLen(name[n:])
			switch {
			case lit == p && c == w.Many:
				starP, starN = p, n
				p++
				continue
			case lit == p && c == w.One:
				p, n = p+pw, n+nw
				continue
			case pattern[lit:lit+pw] == name[n:n+nw]:
				p, n = lit+pw, n+nw
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starN += runeLen(name[starN:])
		p, n = starP+1, starN
	}
	for p < len(pattern) && pattern[p] == w.Many {
		p++
	}
	return p == len(pattern)
}

func runeLen(s string) int {
	_, w := utf8.DecodeRuneInString(s)
	return w
}
