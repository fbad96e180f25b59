package observe

import (
	"errors"
	"testing"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/config"
)

func extractor(t *testing.T, o config.RuleObserve) Extractor {
	t.Helper()
	x, err := NewExtractor(o)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestVersionJSON(t *testing.T) {
	top := extractor(t, config.RuleObserve{Column: "version", Field: "$.version"})
	dotted := extractor(t, config.RuleObserve{Column: "version", Field: "$.méta.versión"})
	bare := extractor(t, config.RuleObserve{Column: "version", Field: "version"})
	for _, c := range []struct {
		x    Extractor
		v    string
		want int64
	}{
		{top, `{"version": 42, "name": "Zoë 🚀"}`, 42},
		{top, `{"name":"名前","version":9007199254740993}`, 9007199254740993}, // past float64's exact range
		{top, `{"version":"17"}`, 17},
		{bare, `{"version":-1}`, -1},
		{dotted, `{"méta":{"versión":7,"x":null},"🚀":1}`, 7},
	} {
		got, err := c.x.FromValue([]byte(c.v))
		if err != nil || got != c.want {
			t.Errorf("%v on %s = %d, %v; want %d", c.x.Path, c.v, got, err, c.want)
		}
	}
	for _, c := range []struct {
		x Extractor
		v string
	}{
		{top, `{"name":"x"}`},              // missing
		{top, `{"version":null}`},          // NULL
		{top, `{"version":1.5}`},           // not an integer
		{top, `{"version":true}`},          // wrong type
		{top, `{"version":"v2"}`},          // string, not a number
		{top, `[1,2]`},                     // not an object
		{top, `not json ü`},                // not JSON
		{top, ``},                          // empty
		{dotted, `{"méta":3}`},             // parent not an object
		{dotted, `{"méta":{"version":1}}`}, // near miss
		{top, cacheaside.Prefix + "V3:{\"version\":3}"},
	} {
		if got, err := c.x.FromValue([]byte(c.v)); !errors.Is(err, ErrNoVersion) {
			t.Errorf("%v on %q = %d, %v; want ErrNoVersion", c.x.Path, c.v, got, err)
		}
	}
}

func TestVersionHash(t *testing.T) {
	x := extractor(t, config.RuleObserve{Column: "v", HashField: "verśion"})
	s := func(v string) *string { return &v }
	if got, err := x.FromHash(s("12")); err != nil || got != 12 {
		t.Errorf("got %d, %v", got, err)
	}
	for _, f := range []*string{nil, s(""), s("1.0"), s("ü"), s("99999999999999999999")} {
		if got, err := x.FromHash(f); !errors.Is(err, ErrNoVersion) {
			t.Errorf("FromHash(%v) = %d, %v; want ErrNoVersion", f, got, err)
		}
	}
	if _, err := x.FromValue([]byte(`{"v":1}`)); !errors.Is(err, ErrNoVersion) {
		t.Errorf("a hash rule reading a string value: %v", err)
	}
}

func TestVersionStamp(t *testing.T) {
	x := extractor(t, config.RuleObserve{Column: "v", Stamp: "cacheaside"})
	if got, err := x.FromValue([]byte(cacheaside.Prefix + "V5:名前 🚀")); err != nil || got != 5 {
		t.Errorf("got %d, %v", got, err)
	}
	for _, v := range []string{`{"v":5}`, cacheaside.Prefix + "N", cacheaside.Prefix + "Lab12", cacheaside.Prefix + "Vx:1"} {
		if got, err := x.FromValue([]byte(v)); !errors.Is(err, ErrNoVersion) {
			t.Errorf("FromValue(%q) = %d, %v; want ErrNoVersion", v, got, err)
		}
	}
}

func TestNewExtractorNeedsAKind(t *testing.T) {
	if _, err := NewExtractor(config.RuleObserve{Column: "v"}); err == nil {
		t.Error("want an error without field, hash_field or stamp")
	}
}
