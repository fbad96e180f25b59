package testenv

import (
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/config"
)

// Rules builds bare rules from "db.table[ wb=stream]" specs separated by
// ";", without parsing a config: for tests of what rules need of the source.
func Rules(t testing.TB, specs string) []*config.Rule {
	t.Helper()
	var rules []*config.Rule
	for _, spec := range strings.Split(specs, ";") {
		table, stream, _ := strings.Cut(strings.TrimSpace(spec), " wb=")
		r := &config.Rule{Table: table}
		r.DB, r.TableGlob, _ = strings.Cut(table, ".")
		r.WriteBehind.Stream = stream
		rules = append(rules, r)
	}
	return rules
}

// RulesFromText parses a rules: section, "db." standing for the database db.
func RulesFromText(t testing.TB, text, db string) []*config.Rule {
	t.Helper()
	text = "source: {user: root}\n" + strings.ReplaceAll(text, "table: db.", "table: "+db+".")
	cfg, err := config.Parse([]byte(text), "rules.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	out := make([]*config.Rule, len(cfg.Rules))
	for i := range cfg.Rules {
		out[i] = &cfg.Rules[i]
	}
	return out
}

// Rule builds a rule as Validate would leave it (Templates parsed).
func Rule(tb testing.TB, table string, watch []string, keys ...string) *config.Rule {
	tb.Helper()
	r := &config.Rule{Table: table, Keys: keys, Watch: watch}
	for _, k := range keys {
		tpl, err := config.ParseTemplate(k)
		if err != nil {
			tb.Fatalf("template %q: %v", k, err)
		}
		r.Templates = append(r.Templates, tpl)
	}
	return r
}

// Table builds a schema as schema.NewTable does; cols are name, SQL
// type, collation triples. The first column is the primary key.
func Table(db, name string, cols ...string) *schema.Table {
	t := &schema.Table{Schema: db, Name: name, PKColumns: []int{0}}
	for i := 0; i+2 < len(cols); i += 3 {
		t.AddColumn(cols[i], cols[i+1], cols[i+2], "")
	}
	return t
}
