package config

import (
	"slices"
	"testing"
)

// The literal prefix and the SCAN MATCH glob of a template: braces
// unescaped, glob characters escaped, 4-byte UTF-8 kept as bytes.
func TestTemplateScanPattern(t *testing.T) {
	for _, c := range []struct {
		tpl, prefix, match, problem string
	}{
		{"user:{id}", "user:", "user:*", ""},
		{"user:email:{email}", "user:email:", "user:email:*", ""},
		{"user:{id}:orders", "user:", "user:*:orders", ""},
		{"{id}:user", "", "*:user", "starts with a column"},
		{"{{user}}:{id}", "{user}:", "{user}:*", ""},
		{"{{{id}}}:cart", "{", "{*}:cart", ""},
		{"ユーザー:{id}", "ユーザー:", "ユーザー:*", ""},
		{"😀🍣:{id}:x", "😀🍣:", "😀🍣:*:x", ""},
		{"a*b?c[d]e\\f:{id}", "a*b?c[d]e\\f:", `a\*b\?c\[d\]e\\f:*`, ""},
		{"*:{id}", "*:", `\*:*`, ""},
		{"*{id}", "*", `\**`, "only of glob characters"},
		{"[]{id}", "[]", `\[\]*`, "only of glob characters"},
		{"k{a}{b}", "k", "k**", ""},
	} {
		tpl, err := ParseTemplate(c.tpl)
		if err != nil {
			t.Fatalf("%q: %v", c.tpl, err)
		}
		if got := tpl.LiteralPrefix(); got != c.prefix {
			t.Errorf("%q: prefix %q, want %q", c.tpl, got, c.prefix)
		}
		if got := tpl.MatchPattern(); got != c.match {
			t.Errorf("%q: match %q, want %q", c.tpl, got, c.match)
		}
		if got := scanProblem(tpl); (c.problem == "") != (got == "") || !contains(got, c.problem) {
			t.Errorf("%q: problem %q, want one with %q", c.tpl, got, c.problem)
		}
	}
}

func contains(s, sub string) bool { return indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestTruncateAndCascadeConfig(t *testing.T) {
	const src = `source:
  user: cachesync
rules:
  - table: shop.users
    name: users
    keys: ["user:{id}", "{email}:user"]
    on_truncate: scan
    cascade:
      - {rule: orders, keys: ["bu:{id}:orders"]}
      - {rule: nope, scan: true}
      - {rule: orders}
      - {rule: free, scan: true}
  - table: shop.orders
    name: orders
    keys: ["order:{id}"]
    on_truncate: sometimes
  - table: shop.free
    name: free
    keys: ["{id}"]
  - table: shop.again
    name: orders
    keys: ["again:{id}"]
`
	_, err := Parse([]byte(src), "test.yaml", env())
	checkProblems(t, err,
		want{6, "rules[0].keys[1]", "on_truncate: scan cannot use this template: it starts with a column"},
		want{10, "rules[0].cascade[1].rule", "names no rule"},
		want{11, "rules[0].cascade[2]", "needs either keys"},
		want{12, "rules[0].cascade[3].scan", "cannot scan for rules[2].keys[0]"},
		want{16, "rules[1].on_truncate", "must be warn or scan"},
		want{21, "rules[3].name", "repeats the name of rules[1]"},
	)

	cfg := mustParse(t, `source:
  user: cachesync
rules:
  - table: shop.users
    keys: ["user:{id}"]
    on_truncate: scan
    cascade:
      - {rule: orders, keys: ["bu:{id}:orders"]}
      - {rule: orders, scan: true}
  - table: shop.orders
    name: orders
    keys: ["order:{id}", "o:{{{user_id}}}:*"]
`, env())
	u := cfg.Rules[0]
	if u.TruncatePolicy() != "scan" || cfg.Rules[1].TruncatePolicy() != "warn" {
		t.Errorf("on_truncate %q %q, want scan and the default warn", u.TruncatePolicy(), cfg.Rules[1].TruncatePolicy())
	}
	if len(u.CascadeTemplates) != 1 || u.CascadeTemplates[0].Raw != "bu:{id}:orders" {
		t.Errorf("cascade templates %v", u.CascadeTemplates)
	}
	if want := []string{"order:*", `o:{*}:\*`}; !slices.Equal(u.CascadeScans, want) {
		t.Errorf("cascade scans %q, want %q", u.CascadeScans, want)
	}
	if got := cfg.Source.OnSchemaDoubt; got != "backfill" {
		t.Errorf("on_schema_doubt default %q", got)
	}
}
