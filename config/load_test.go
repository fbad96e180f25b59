package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestUnknownKeysAllWithLines(t *testing.T) {
	src := `source:
  user: u
  pasword: x
  ssl: true
redis:
  adrs: [a]
rules:
  - table: a.b
    keys: ["k:{id}"]
    wach: [x]
extra: ${NOT_SET_AND_NOT_EXPANDED}
`
	_, err := Parse([]byte(src), "u.yaml", nil)
	checkProblems(t, err,
		want{3, "source.pasword", `did you mean "password"?`},
		want{4, "source.ssl", "unknown key: remove it, or use one of: addr, user, password,"},
		want{6, "redis.adrs", `did you mean "addrs"?`},
		want{10, "rules[0].wach", `did you mean "watch"?`},
		want{11, "extra", "unknown key"},
	)
}

func TestDecodeProblems(t *testing.T) {
	src := `source:
  user: u
  server_id: abc
  gtid: maybe
  server_id: 7
redis:
  addrs: 127.0.0.1:6379
  pool_size: [1]
delete:
  second_delay: 500
retry: [1, 2]
http:
  addr: {a: b}
rules:
  table: a.b
`
	_, err := Parse([]byte(src), "d.yaml", nil)
	checkProblems(t, err,
		want{3, "source.server_id", `must be a whole number from 0 to 4294967295, got "abc"`},
		want{4, "source.gtid", `must be true or false, got "maybe"`},
		want{5, "source.server_id", "written twice (first at line 3)"},
		want{7, "redis.addrs", "must be a list: write [127.0.0.1:6379]"},
		want{8, "redis.pool_size", "must be a whole number, not a list"},
		want{10, "delete.second_delay", `a number needs a unit: write for example 500ms or 2s (only 0 may go without), got "500"`},
		want{11, "retry", "must be a mapping of keys (initial, max), not a list"},
		want{13, "http.addr", "must be text, not a mapping"},
		want{15, "rules", "must be a list, not a mapping"}, // and not also "needs at least one rule"
	)
}

func TestSecondDelay(t *testing.T) {
	cases := []struct {
		line string
		want time.Duration
	}{
		{"", 500 * time.Millisecond},                           // omitted: the default
		{"delete: {}\n", 500 * time.Millisecond},               // section without the key
		{"delete:\n  second_delay:\n", 500 * time.Millisecond}, // no value counts as omitted
		{"delete: {second_delay: 0}\n", 0},                     // explicit 0 turns it off
		{"delete: {second_delay: 0s}\n", 0},
		{"delete: {second_delay: 1.5s}\n", 1500 * time.Millisecond},
	}
	for _, c := range cases {
		cfg := mustParse(t, minimal+c.line, nil)
		if got := cfg.Delete.SecondDelay.D(); got != c.want {
			t.Errorf("%q: second_delay = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	getenv := env("PW", "p@ss: #{x}", "ID", "42", "HOST", "db.internal", "NUMPW", "123", "NULLPW", "null",
		"DELAY", "0", "EMPTY", "", "PREFIX", "app")
	cfg := mustParse(t, `source:
  addr: ${HOST}:3306
  user: cache$user$$x
  password: ${PW}
  server_id: ${ID}
redis:
  password: "${NUMPW}"
  username: ${NULLPW}
delete:
  second_delay: ${DELAY}
rules:
  - table: shop.users
    keys: ["${PREFIX}:user:{id}", "lit:$${HOME}:{id}"]
`, getenv)
	checks := map[string][2]string{
		"addr":           {cfg.Source.Addr, "db.internal:3306"},
		"user":           {cfg.Source.User, "cache$user$$x"},
		"password":       {cfg.Source.Password.Reveal(), "p@ss: #{x}"},
		"redis password": {cfg.Redis.Password.Reveal(), "123"},
		"text null":      {cfg.Redis.Username, "null"},
		"key 0":          {cfg.Rules[0].Keys[0], "app:user:{id}"},
		"key 1 escape":   {cfg.Rules[0].Keys[1], "lit:${HOME}:{id}"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if cfg.Source.ServerID != 42 || cfg.Delete.SecondDelay != 0 {
		t.Errorf("server_id = %d, second_delay = %v", cfg.Source.ServerID, cfg.Delete.SecondDelay)
	}
}

func TestEnvProblems(t *testing.T) {
	src := `source:
  user: ${DB_USER}
  password: "${MISSING_PW}"
  server_id: ${EMPTY}
  addr: ${bad-name}:1
  charset: ${UNCLOSED
rules:
  - table: shop.users
    keys: ["u:{id}"]
`
	_, err := Parse([]byte(src), "e.yaml", env("EMPTY", ""))
	checkProblems(t, err,
		want{2, "source.user", "environment variable DB_USER is not set"},
		want{3, "source.password", "environment variable MISSING_PW is not set"},
		want{4, "source.server_id", "expands to an empty value"},
		want{5, "source.addr", `"${bad-name}" is not a variable reference`},
		want{6, "source.charset", `"${" is not closed`},
	)
}

func TestYAMLSyntaxProblems(t *testing.T) {
	cases := []struct {
		src  string
		line int
		msg  string
	}{
		{"source: {user: u, password: ${PW}}\n", 1, `a value with braces must be quoted: write password: "${MYSQL_PASSWORD}"`},
		{"source:\n  user: u\nrules: [a\nhttp: {}\n", 3, "did not find expected ',' or ']'"},
		{"source:\n  user: u\n user2: x\n", 3, "invalid YAML"},
		{"source:\n\tuser: u\n", 2, "this line has a tab"},
		{"source:\n  user: u\n- x\n", 3, "did not find expected key"},
		{"source:\n  user: 'u\n", 2, "found unexpected end of stream"},
		{"source:\n  user: *nope\n", 2, "unknown anchor 'nope' referenced"},
		{"source:\n  user: u\x01\n", 2, "control characters are not allowed"},
		{"source:\n  user: \xff\n", 2, "invalid leading UTF-8 octet"},
		{"source: {user: u}\n---\nrules: []\n", 2, "a second YAML document starts here"},
		{"- source\n", 1, "the file must be a mapping of sections"},
		{"just text\n", 1, "the file must be a mapping of sections"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.src), "s.yaml", nil)
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Line != c.line || !strings.Contains(ps[0].Msg, c.msg) {
			t.Errorf("%q: want one problem at line %d containing %q, got:\n%v", c.src, c.line, c.msg, err)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n"} {
		_, err := Parse([]byte(src), "e.yaml", nil)
		checkProblems(t, err, want{0, "source.user", "is required"}, want{0, "rules", "needs at least one rule"})
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - &r {table: shop.a, keys: ["a:{id}"], watch: [x]}
  - <<: *r
    table: shop.b
  - {<<: *r, keys: ["b:{id}"]}
`, nil)
	expect := [][]string{{"shop.a", "a:{id}", "x"}, {"shop.b", "a:{id}", "x"}, {"shop.a", "b:{id}", "x"}}
	for i, r := range cfg.Rules {
		got := []string{r.Table, r.Keys[0], r.Watch[0]}
		if !reflect.DeepEqual(got, expect[i]) {
			t.Errorf("rule %d = %v, want %v", i, got, expect[i])
		}
	}

	_, err := Parse([]byte("source: {user: u}\nrules:\n  - &m {table: a.b, keys: ['k:{id}'], <<: *m}\n"), "a.yaml", nil)
	checkProblems(t, err, want{3, "rules[0]", "refers to a value that contains it"})
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("source: {user: u}\nk: &k [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'x:{id}'")
	}
	b.WriteString("]\nrules: [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{table: a.b, keys: *k}")
	}
	b.WriteString("]\n")
	_, err := Parse([]byte(b.String()), "bomb.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases expand to more than") {
		t.Fatalf("want the alias budget problem, got %.300v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("source: {user: u}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	ps := problemsOf(t, err)
	if ps[0].File != path || !strings.HasPrefix(err.Error(), path+": rules: needs at least one rule") {
		t.Errorf("problems should name the file: %v", err)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file should be named: %v", err)
	}
}

// TestExampleConfig loads the reference config and checks it names every key
// of the schema, so the example cannot fall behind the structs.
func TestExampleConfig(t *testing.T) {
	cfg, err := Load("../testdata/cachesync.example.yaml", env("MYSQL_PASSWORD", "example-pw"))
	if err != nil {
		t.Fatalf("example config:\n%v", err)
	}
	if cfg.Source.Password.Reveal() != "example-pw" || len(cfg.Rules) < 2 {
		t.Errorf("example not decoded as expected: %+v", cfg)
	}
	// A list item's key counts when any item has it: some keys exclude
	// each other (value.json and value.hash, action: set and write_behind).
	written := map[string]bool{}
	anyItem := regexp.MustCompile(`\[\d+\]`)
	for path := range cfg.src.lines {
		written[anyItem.ReplaceAllString(path, "[0]")] = true
	}
	for _, path := range schemaPaths(reflect.TypeFor[Config](), "") {
		if !written[path] {
			t.Errorf("example config lacks %s", path)
		}
	}
}

// schemaPaths lists every key path of a config struct; lists of structs are
// represented by their first item.
func schemaPaths(t reflect.Type, prefix string) []string {
	var out []string
	for _, f := range fieldsOf(t) {
		p := joinPath(prefix, f.name)
		out = append(out, p)
		ft := t.Field(f.index).Type
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			out = append(out, schemaPaths(ft, p)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, schemaPaths(ft.Elem(), indexPath(p, 0))...)
		}
	}
	return out
}
