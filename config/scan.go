package config

import (
	"strings"
)

// What a SCAN for a rule's keys matches. TRUNCATE and ON DELETE CASCADE
// remove rows the binlog does not list, so their keys cannot be rendered;
// on_truncate: scan and cascade scan: true find them in Redis instead, by
// SCAN MATCH of a glob built from each template: the literal parts escaped,
// each {column} a *. A template that starts with a column has no literal
// prefix and its glob would match every key of the database: refused.

// CascadeConfig is one child rule of a cascade: its keys rendered from the
// parent's deleted row (keys), or every key its templates can produce
// (scan: true).
type CascadeConfig struct {
	Rule string   `yaml:"rule"` // the child rule's name
	Keys []string `yaml:"keys"` // templates over the parent's columns
	Scan bool     `yaml:"scan"`
}

// DefaultOnTruncate is a rule's on_truncate when it names none: list items
// have no place in Default, so the default of this per-rule key lives here,
// with the rest of on_truncate.
const DefaultOnTruncate = "warn"

// globSpecial are the characters Redis's glob (stringmatchlen) treats as
// pattern syntax.
const globSpecial = `*?[]\`

// LiteralPrefix is the literal text before the template's first column,
// braces unescaped ("{{" is "{"), as the rendered key starts with it.
func (t *Template) LiteralPrefix() string {
	if len(t.Parts) == 0 || t.Parts[0].Column != "" {
		return ""
	}
	return t.Parts[0].Literal
}

// MatchPattern is the SCAN MATCH glob of every key the template can
// produce: literals glob-escaped, each column a *.
func (t *Template) MatchPattern() string {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Column != "" {
			b.WriteByte('*')
			continue
		}
		b.WriteString(GlobEscape(p.Literal))
	}
	return b.String()
}

// GlobEscape escapes s for a Redis glob so that it matches only itself.
func GlobEscape(s string) string {
	if !strings.ContainsAny(s, globSpecial) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(globSpecial, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scanProblem says why a template cannot be scanned for, "" when it can.
func scanProblem(t *Template) string {
	prefix := t.LiteralPrefix()
	if prefix == "" {
		return "starts with a column, so a SCAN for its keys would match every key in Redis: give it a literal prefix such as user:{id}"
	}
	if strings.Trim(prefix, globSpecial) == "" {
		return "has a literal prefix made only of glob characters (" + prefix + "), which says nothing about which keys are this rule's: give it a prefix such as user:{id}"
	}
	return ""
}

// ScanPatterns are the SCAN MATCH globs of the rule's templates.
func (r *Rule) ScanPatterns() []string {
	out := make([]string, 0, len(r.Templates))
	for _, t := range r.Templates {
		out = append(out, t.MatchPattern())
	}
	return out
}

// TruncatePolicy is on_truncate, or DefaultOnTruncate when empty.
func (r *Rule) TruncatePolicy() string {
	if r.OnTruncate == "" {
		return DefaultOnTruncate
	}
	return r.OnTruncate
}

func (k *checker) checkTruncate(r *Rule, path string) {
	if r.OnTruncate != "" {
		k.oneOf(path+".on_truncate", r.OnTruncate, "warn", "scan")
	}
	if r.OnTruncate != "scan" {
		return
	}
	for j, t := range r.Templates {
		if why := scanProblem(t); why != "" {
			k.addf(indexPath(path+".keys", j), "on_truncate: scan cannot use this template: it %s; or set on_truncate: warn", why)
		}
	}
}

// checkCascades resolves each rule's cascade entries against the rules
// they name, once every rule has been checked.
func (k *checker) checkCascades(rules []Rule) {
	byName := map[string]int{}
	for i := range rules {
		r := &rules[i]
		r.CascadeTemplates, r.CascadeScans = nil, nil
		if r.Name == "" {
			continue
		}
		if prev, dup := byName[r.Name]; dup {
			k.addf(indexPath("rules", i)+".name", "repeats the name of rules[%d]: rule names must be unique", prev)
			continue
		}
		byName[r.Name] = i
	}
	for i := range rules {
		for j, c := range rules[i].Cascade {
			k.checkCascade(rules, byName, &rules[i], c, indexPath(indexPath("rules", i)+".cascade", j))
		}
	}
}

func (k *checker) checkCascade(rules []Rule, byName map[string]int, r *Rule, c CascadeConfig, path string) {
	child, ok := byName[c.Rule]
	switch {
	case c.Rule == "":
		k.addf(path+".rule", "is required: the name of the child table's rule (give that rule a name: key)")
		return
	case !ok:
		k.addf(path+".rule", "names no rule: %s; give the child table's rule name: %s", k.show(path+".rule", c.Rule), c.Rule)
		return
	case c.Scan == (len(c.Keys) > 0):
		k.addf(path, "needs either keys (templates over this table's columns, rendered from the deleted row) or scan: true (a SCAN of the child rule's keys), not both or neither")
		return
	}
	if c.Scan {
		for j, t := range rules[child].Templates {
			if why := scanProblem(t); why != "" {
				k.addf(path+".scan", "cannot scan for rules[%d].keys[%d]: it %s; or list keys rendered from this table's row instead", child, j, why)
				continue
			}
			r.CascadeScans = append(r.CascadeScans, t.MatchPattern())
		}
		return
	}
	k.templates(path+".keys", c.Keys, func(_ int, _ string, t *Template) {
		r.CascadeTemplates = append(r.CascadeTemplates, t)
	})
}
