package config

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"user:{id}", "user:{{{id}}}", "{{}}", "a}b", "{a{b}", "{}", "{ünï}", "{{{{a}}}}", "{a\xffb}", "}}{{", "{$_1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset >= len(s) || te.Template != s {
				t.Fatalf("%q: bad error %#v", s, err)
			}
			_ = err.Error()
			return
		}
		checkParts(t, s, tpl.Parts)
		// Round trip: writing the parts back in template syntax and parsing
		// again gives the same parts.
		again, err := ParseTemplate(tpl.syntax(false))
		if err != nil {
			t.Fatalf("%q rendered as %q does not parse: %v", s, tpl.syntax(false), err)
		}
		if !reflect.DeepEqual(again.Parts, tpl.Parts) {
			t.Fatalf("%q: round trip changed parts %#v → %#v", s, tpl.Parts, again.Parts)
		}
	})
}

// checkParts asserts the Parts invariants the canal package relies on.
func checkParts(t *testing.T, s string, parts []Part) {
	for i, p := range parts {
		switch {
		case p.Column != "" && p.Literal != "":
			t.Fatalf("%q: part %d is both column and literal", s, i)
		case p.Column == "" && p.Literal == "":
			t.Fatalf("%q: part %d is empty", s, i)
		case p.Column != "" && checkIdentifier(p.Column) != "":
			t.Fatalf("%q: column %q accepted", s, p.Column)
		case i > 0 && p.Column == "" && parts[i-1].Column == "":
			t.Fatalf("%q: two literals in a row", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("../testdata/cachesync.example.yaml"); err == nil {
		f.Add(string(example))
	}
	for _, s := range []string{
		minimal,
		minimal + "delete: {second_delay: 0}\n",
		"source: {user: ${U}, password: \"${S}\"}\nrules: [{table: a.b*, keys: ['k:{id}', '${S}'], watch: [x]}]\n",
		"source: {user: u}\nrules:\n  - &r {table: a.b, keys: ['k:{id}']}\n  - <<: *r\n    table: a.c\n",
		"a: [1\n", "- x\n", "x: &a [*a]\n", "source: {user: u}\n---\nrules: []\n",
		"redis: {addrs: 127.0.0.1:6379}\nrules: {table: a}\n",
	} {
		f.Add(s)
	}
	const secret = "fuzz-S3CR3T"
	getenv := func(k string) (string, bool) {
		if strings.HasPrefix(k, "U") {
			return "", false
		}
		return secret, true
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Parse([]byte(src), "fuzz.yaml", getenv)
		if err != nil {
			checkFuzzProblems(t, src, err, secret)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
		for _, r := range cfg.Rules {
			if r.DB == "" || len(r.Templates) != len(r.Keys) || r.Line < 1 {
				t.Fatalf("rule not filled: %+v", r)
			}
			re := regexp.MustCompile(r.TableRegex())
			if !isGlob(r.TableGlob) && (!r.Matches(r.DB, r.TableGlob) || !re.MatchString(r.Table)) {
				t.Fatalf("rule %q does not match its own table", r.Table)
			}
		}
	})
}

func checkFuzzProblems(t *testing.T, src string, err error, secret string) {
	var ps *Problems
	if !errors.As(err, &ps) || len(*ps) == 0 {
		t.Fatalf("want non-empty *Problems, got %T %v", err, err)
	}
	for _, p := range *ps {
		if p.Msg == "" || p.File != "fuzz.yaml" || p.Line < 0 {
			t.Fatalf("bad problem %#v", p)
		}
	}
	if text := err.Error(); !strings.Contains(src, secret) && strings.Contains(text, secret) {
		t.Fatalf("expanded secret in error text:\n%s", text)
	}
}

// FuzzGlob checks that Matches and TableRegex agree, since canal filters
// with the regexp and the handler picks rules with Matches.
func FuzzGlob(f *testing.F) {
	f.Add("orders_*", "orders_2024")
	f.Add("t?", "té")
	f.Add("*a*b", "xaxb")
	f.Add("a+b(c)", "a+b(c)")
	f.Add("*", "\xff")
	f.Fuzz(func(t *testing.T, glob, table string) {
		if !utf8.ValidString(glob) {
			t.Skip() // a rule comes from YAML, which is UTF-8
		}
		r := &Rule{DB: "db", TableGlob: glob}
		re, err := regexp.Compile(r.TableRegex())
		if err != nil {
			t.Fatalf("TableRegex %q does not compile: %v", r.TableRegex(), err)
		}
		if got, want := re.MatchString("db."+table), r.Matches("db", table); got != want {
			t.Fatalf("glob %q, table %q: regexp %v, Matches %v", glob, table, got, want)
		}
	})
}
