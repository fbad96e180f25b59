package testenv

import (
	"strings"
	"testing"

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
