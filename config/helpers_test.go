package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// minimal is the smallest valid config; tests append or replace sections.
const minimal = `source:
  user: cachesync
rules:
  - table: shop.users
    keys: ["user:{id}"]
`

// env builds a getenv from pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustParse(t *testing.T, src string, getenv func(string) (string, bool)) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.yaml", getenv)
	if err != nil {
		t.Fatalf("Parse: unexpected problems:\n%v", err)
	}
	return cfg
}

// want is an expected problem: its line, its path and a piece of its message.
type want struct {
	line int
	path string
	msg  string
}

func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want *Problems, got %T: %v", err, err)
	}
	return *ps
}

// checkProblems asserts that err holds exactly the wanted problems (in any
// order within the list) and that they come sorted by line.
func checkProblems(t *testing.T, err error, wants ...want) {
	t.Helper()
	got := problemsOf(t, err)
	if !slices.IsSortedFunc(got, func(a, b Problem) int { return a.Line - b.Line }) {
		t.Errorf("problems not sorted by line:\n%v", err)
	}
	left := slices.Clone(got)
	for _, w := range wants {
		i := slices.IndexFunc(left, func(p Problem) bool {
			return p.Line == w.line && p.Path == w.path && strings.Contains(p.Msg, w.msg)
		})
		if i < 0 {
			t.Errorf("missing problem %d %s %q", w.line, w.path, w.msg)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, p := range left {
		t.Errorf("unexpected problem: %s", p)
	}
	if t.Failed() {
		t.Logf("all problems:\n%v", err)
	}
}
