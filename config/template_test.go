package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func lit(s string) Part { return Part{Literal: s} }
func col(s string) Part { return Part{Column: s} }

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		in    string
		parts []Part
	}{
		{"user:{id}", []Part{lit("user:"), col("id")}},
		{"user:{{{id}}}", []Part{lit("user:{"), col("id"), lit("}")}}, // Redis Cluster hash tag
		{"{{{id}}}:profile", []Part{lit("{"), col("id"), lit("}:profile")}},
		{"{a}{b}", []Part{col("a"), col("b")}},
		{"user:{user_id}:orders", []Part{lit("user:"), col("user_id"), lit(":orders")}},
		{"{{}}", []Part{lit("{}")}},
		{"a{{b}}c", []Part{lit("a{b}c")}},
		{"{$x_1}", []Part{col("$x_1")}},
		{"k:{ünïcode}", []Part{lit("k:"), col("ünïcode")}},
		{"{1a}", []Part{col("1a")}},
		{"plain", []Part{lit("plain")}},
		{"", nil},
	}
	for _, c := range cases {
		tpl, err := ParseTemplate(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(tpl.Parts, c.parts) || tpl.Raw != c.in {
			t.Errorf("%q: parts = %#v, want %#v", c.in, tpl.Parts, c.parts)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	cases := []struct {
		in   string
		char int
		msg  string
	}{
		{"a}b", 2, `lone "}"`},
		{"{{id}", 5, `lone "}"`},
		{"user:{id", 6, `"{" is not closed`},
		{"{a{b}", 1, `"{" is not closed`},
		{"{}", 1, `empty "{}"`},
		{"x{a b}", 3, `column name "a b" has ' '`},
		{"{a-b}", 2, `has '-'`},
		{"{123}", 2, "only digits"},
		{"{" + strings.Repeat("x", 65) + "}", 2, "longer than 64"},
		{"é}", 2, `lone "}"`}, // characters, not bytes
		{"{a\xffb}", 2, "not valid UTF-8"},
		{"{a\U0001F600}", 2, "which a column name cannot have"},
	}
	for _, c := range cases {
		_, err := ParseTemplate(c.in)
		var te *TemplateError
		if !errors.As(err, &te) {
			t.Errorf("%q: want *TemplateError, got %v", c.in, err)
			continue
		}
		if te.Char() != c.char || !strings.Contains(te.Msg, c.msg) {
			t.Errorf("%q: got character %d %q, want %d %q", c.in, te.Char(), te.Msg, c.char, c.msg)
		}
		if !strings.Contains(err.Error(), "character") {
			t.Errorf("%q: error should say where: %v", c.in, err)
		}
	}
}

func TestTemplateColumns(t *testing.T) {
	tpl, err := ParseTemplate("{id}:{name}:{ID}:{{x}}:{email}")
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Columns(); !reflect.DeepEqual(got, []string{"id", "name", "email"}) {
		t.Errorf("Columns() = %v", got)
	}
	if tpl.syntax(false) != "{id}:{name}:{ID}:{{x}}:{email}" {
		t.Errorf("syntax = %q", tpl.syntax(false))
	}
}
