package config

import "testing"

func TestWildcardsMatch(t *testing.T) {
	glob := Wildcards{Many: '*', One: '?'}
	like := Wildcards{Many: '%', One: '_', Escape: true}
	for _, tc := range []struct {
		w             Wildcards
		pattern, name string
		want          bool
	}{
		{glob, "users", "users", true},
		{glob, "users", "user", false},
		{glob, "user_*", "user_2024", true},
		{glob, "user_*", "user_", true},
		{glob, "*_log", "a_b_log", true},
		{glob, "t?", "tü", true},
		{glob, "t?", "t😀", true},
		{glob, "t?", "t😀x", false},
		{glob, "*😀*", "a😀b", true},
		{glob, "a*b*c", "aXbYbZc", true},
		{glob, "a*b*c", "aXbYbZ", false},
		{glob, "**", "", true},
		{glob, "?", "", false},
		{glob, `a\b`, `a\b`, true}, // no escapes in rule patterns
		{like, "shop%", "shop_x", true},
		{like, "shop\\_db", "shop_db", true},
		{like, "shop\\_db", "shopXdb", false},
		{like, "shop_db", "shopXdb", true},
		{like, "%", "", true},
		{like, "_", "ß", true},
		{like, "a%b%", "ab", true},
		{like, "a%b", "acbd", false},
		{like, "100\\%", "100%", true},
		{like, "100\\%", "1000", false},
		{like, "x\\", "x\\", true}, // a trailing backslash is itself
	} {
		if got := tc.w.Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("%q Match(%q, %q) = %v, want %v", string([]byte{tc.w.Many, tc.w.One}), tc.pattern, tc.name, got, tc.want)
		}
	}
}
