package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationYAML(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"2s", 2 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{`"0"`, 0, ""},
		{"0s", 0, ""},
		{"-1s", -time.Second, ""}, // parses; Validate decides where negatives are wrong
		{"500", 0, "a number needs a unit"},
		{"1.5", 0, "a number needs a unit"},
		{"abc", 0, "must be a duration such as 500ms"},
		{"[1s]", 0, "not a list or mapping"},
		{"1d", 0, "must be a duration"},
	}
	for _, c := range cases {
		var d Duration
		err := yaml.Unmarshal([]byte(c.in), &d)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: want error with %q, got %v", c.in, c.err, err)
		case c.err == "" && d.D() != c.want:
			t.Errorf("%s = %v, want %v", c.in, d.D(), c.want)
		}
	}
}

func TestDurationMarshal(t *testing.T) {
	d := Duration(1500 * time.Millisecond)
	out, err := yaml.Marshal(struct{ D Duration }{d})
	if err != nil || string(out) != "d: 1.5s\n" {
		t.Errorf("yaml = %q, %v", out, err)
	}
	var back struct{ D Duration }
	if err := yaml.Unmarshal(out, &back); err != nil || back.D != d {
		t.Errorf("round trip = %v, %v", back.D, err)
	}
	if j, _ := json.Marshal(d); string(j) != `"1.5s"` {
		t.Errorf("json = %s", j)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const pw = "hunter2-very-secret"
	s := Secret(pw)
	cfg := Default()
	cfg.Source.Password = s
	cfg.Redis.Password = s
	js, _ := json.Marshal(cfg)
	ys, _ := yaml.Marshal(cfg)
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%s|%v|%q|%x|%X|%d|%#v|%+v|%10s|%-3v", s, s, s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprintf("%v", &cfg.Source), string(js), string(ys),
		fmt.Sprint([]Secret{s}), fmt.Sprint(map[string]Secret{"k": s}),
	}
	for _, o := range outputs {
		if strings.Contains(o, pw) || strings.Contains(o, fmt.Sprintf("%x", pw)) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if s.String() != "******" || s.Reveal() != pw || Secret("").String() != "" || fmt.Sprintf("%#v", s) != `"******"` {
		t.Errorf("String %q Reveal %q GoString %q", s.String(), s.Reveal(), fmt.Sprintf("%#v", s))
	}
	if m, _ := json.Marshal(Secret("")); string(m) != `""` {
		t.Errorf("empty secret json = %s", m)
	}
}
