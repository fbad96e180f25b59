package kafkamsg

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `-1.25e+10`, `.5`, `+1`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `NULL`,
	`{"a":1}`, `{"a":1,}`, `{"a" : [1, 2 ,3] , "b":{}}`, `{a:1}`, `{"a"}`, `{"a":}`, `{,}`, `[1,]`, `[,1]`, `[1 2]`,
	`"\u00e9"`, `"\u00g9"`, `"\u12"`, `"\x"`, `"\/"`, `"a` + "\x01" + `"`, `"a` + "\x1f" + `"`, `"a` + "\x20" + `"`, `"a` + "\x7f" + `"`, `"` + "\xff\xfe" + `"`,
	`"unterminated`, `"\`, `{"a":1}x`, " \t\n\r{}\n", `{"a":1}{}`, `[[[]]]`, `[[[]]`, `"😀"`, `"\ud83d\ude00"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// TestValidJSONAgreesWithEncodingJSON: the hand-written check accepts and
// refuses exactly what json.Valid does.
func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	enc, _ := Encode(sample())
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// TestDecodeSyntaxBeforeMembers: the one-pass reader reports a syntax error
// before a duplicate or undecodable member name found earlier in the text,
// as checking the whole syntax first did.
func TestDecodeSyntaxBeforeMembers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"v":1,"v":1} x`, "data after the JSON object"},
		{`{"v":1,"v":1,}`, "not valid JSON"},
		{`{"\ud800":1,"v":[}`, "not valid JSON"},
		{`{"v":1,"v":1}`, "appears twice"},
		{`{"\ud800":1}`, "surrogate"},
		{`[1]`, "not a JSON object"},
		{` [1`, "not valid JSON"},
	} {
		_, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%s) = %v, want an error saying %q", c.in, err, c.want)
		}
	}
}
