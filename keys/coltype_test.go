package keys

import (
	"reflect"
	"testing"
)

func TestParseMembers(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"'small','medium','large')", []string{"small", "medium", "large"}, true},
		{"'x,y','it''s','z')", []string{"x,y", "it's", "z"}, true},
		{`'a\'b','')`, []string{"a'b", ""}, true},
		{"'unterminated", nil, false},
		{"small,medium)", nil, false},
		{"'a' 'b')", nil, false},
	}
	for _, c := range cases {
		got, ok := parseMembers(c.in)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseMembers(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseMembers(f *testing.F) {
	for _, s := range []string{"'a','b')", "'x,y','it''s')", `'\'')`, "')"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, ok := parseMembers(s)
		if !ok {
			return
		}
		// Quoting the members back MySQL's way must parse to the same list.
		var b []byte
		for i, m := range members {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\'')
			for _, c := range []byte(m) {
				switch c {
				case '\'':
					b = append(b, '\'')
				case '\\':
					b = append(b, '\\')
				}
				b = append(b, c)
			}
			b = append(b, '\'')
		}
		b = append(b, ')')
		again, ok := parseMembers(string(b))
		if !ok || !reflect.DeepEqual(again, members) {
			t.Fatalf("round trip of %q: %q -> %q (%v)", s, members, again, ok)
		}
	})
}
