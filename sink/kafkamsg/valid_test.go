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
