package event

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// String is fixed-width lower-case hex, so string order is version order,
// and ParseVersion reads it back.
func TestVersionString(t *testing.T) {
	vs := []Version{{}, {File: 1, Pos: 4, Seq: 1}, {File: 0xffffffff, Pos: 0xffffffff, Seq: 0xffffff}, {File: 0xabcdef01, Pos: 0x10, Seq: 0xa0000}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		vs = append(vs, Version{File: r.Uint32(), Pos: r.Uint32(), Seq: r.Uint32() & 0xffffff})
	}
	for i, v := range vs {
		s := v.String()
		if want := fmt.Sprintf("%08x%08x%06x", v.File, v.Pos, v.Seq); s != want {
			t.Fatalf("%+v.String() = %q, want %q", v, s, want)
		}
		back, err := ParseVersion(s)
		if err != nil || back != v {
			t.Fatalf("ParseVersion(%q) = %+v, %v; want %+v", s, back, err, v)
		}
		if i > 0 {
			p := vs[i-1]
			if c := p.Compare(v); (c < 0) != (p.String() < s) || (c == 0) != (p.String() == s) {
				t.Fatalf("%+v vs %+v: Compare %d, strings %q %q", p, v, c, p.String(), s)
			}
		}
	}
}

func TestParseVersionRefuses(t *testing.T) {
	for _, s := range []string{"", "00000001", "0000000100000004000001x", "0000000100000004ABCDEF", "000000010000000400000g", "+000000100000004000001", "0000000100000004 00001"} {
		if v, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", s, v)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Add("0000000100000004000001")
	f.Add("ffffffffffffffffffffff")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.String() != s {
			t.Fatalf("ParseVersion(%q) = %+v, whose String is %q", s, v, v.String())
		}
	})
}
