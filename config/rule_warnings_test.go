package config

import (
	"strings"
	"testing"
)

func TestRuleWarningsNameUnwatchedTemplateColumns(t *testing.T) {
	cases := []struct {
		name  string
		keys  []string
		watch []string
		want  []string // columns warned about, in order
	}{
		{"no watch: every change emits", []string{"user:{id}", "user:email:{email}"}, nil, nil},
		{"all watched", []string{"user:{id}", "user:email:{email}"}, []string{"id", "email"}, nil},
		{"case-insensitive like MySQL", []string{"user:{ID}"}, []string{"id"}, nil},
		{"email key not watched", []string{"user:{id}", "user:email:{email}"}, []string{"id", "name"}, []string{"email"}},
		{"one warning per column and template", []string{"u:{a}:{b}:{a}", "v:{b}"}, []string{"c"}, []string{"a", "b", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			cfg.Source.User = "cachesync"
			cfg.Rules = []Rule{{Table: "shop.users", Keys: c.keys, Watch: c.watch}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := cfg.RuleWarnings()
			if len(got) != len(c.want) {
				t.Fatalf("got %d warnings, want %d: %q", len(got), len(c.want), got)
			}
			for i, col := range c.want {
				if !strings.Contains(got[i], `column "`+col+`"`) || !strings.Contains(got[i], "rules[0] (shop.users)") ||
					!strings.Contains(got[i], `add "`+col+`" to watch`) {
					t.Errorf("warning %d = %q, want it to name column %q, the rule and the fix", i, got[i], col)
				}
			}
		})
	}
}
