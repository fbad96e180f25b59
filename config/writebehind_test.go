package config

import (
	"reflect"
	"testing"
	"time"
)

func TestWriteBehindDefaults(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - table: shop.stock
    keys: ["stock:{id}", "stock:list:{kind}", "stock:{ID}:x"]
    write_behind: {stream: wb:stock, keys: ["stock:{ID}"]}
  - table: shop.users
    keys: ["user:{id}"]
`, nil)
	wb := cfg.Rules[0].WriteBehind
	if !wb.Enabled() || wb.BatchSize() != 500 || wb.FlushInterval() != 100*time.Millisecond {
		t.Errorf("defaults: %+v batch %d interval %v", wb, wb.BatchSize(), wb.FlushInterval())
	}
	if !reflect.DeepEqual(wb.Owned, []int{0}) {
		t.Errorf("owned = %v, want [0] (stock:{ID} is stock:{id})", wb.Owned)
	}
	if cfg.Rules[1].WriteBehind.Enabled() {
		t.Error("a rule without write_behind must not be write-behind")
	}
	if got := cfg.WriteBehindRules(); len(got) != 1 || got[0] != &cfg.Rules[0] {
		t.Errorf("WriteBehindRules = %v", got)
	}
}

func TestWriteBehindExplicit(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - table: shop.stock
    keys: ["stock:{id}", "stock:{sku}"]
    write_behind:
      stream: wb:stock
      keys: ["stock:{sku}", "stock:{id}"]
      batch: 20
      interval: 1s
`, nil)
	wb := cfg.Rules[0].WriteBehind
	if wb.BatchSize() != 20 || wb.FlushInterval() != time.Second || !reflect.DeepEqual(wb.Owned, []int{1, 0}) {
		t.Errorf("got %+v", wb)
	}
}

func TestWriteBehindProblems(t *testing.T) {
	src := `source: {user: u}
rules:
  - table: shop.a
    keys: ["a:{id}", "a:list:{kind}"]
    write_behind:
      stream: " wb:a"
      keys: ["a:{name}", "a:{id", "a:{ID}", "a:{id}"]
      batch: 0
      interval: 0
      flush: now
  - table: shop.b
    keys: ["b:{id}"]
    write_behind: {keys: []}
  - table: shop.c
    keys: ["c:{id}"]
    write_behind: {stream: wb:c, keys: ["c:{id}"], batch: 10001, interval: -1s}
  - table: shop.d
    keys: ["d:{id}"]
    write_behind: {stream: wb:c, keys: ["d:{id}"]}
  - table: shop.e
    keys: ["e:{id}"]
    write_behind: wb:e
`
	_, err := Parse([]byte(src), "wb.yaml", nil)
	checkProblems(t, err,
		want{6, "rules[0].write_behind.stream", "leading or trailing spaces"},
		want{7, "rules[0].write_behind.keys[0]", `"a:{name}" is not one of the rule's keys`},
		want{7, "rules[0].write_behind.keys[1]", `"{" is not closed`},
		want{7, "rules[0].write_behind.keys[3]", "names the same key as keys[2]"},
		want{8, "rules[0].write_behind.batch", "must be from 1 to 10000 (default 500), got \"0\""},
		want{9, "rules[0].write_behind.interval", "must be above 0"},
		want{10, "rules[0].write_behind.flush", "unknown key"},
		want{13, "rules[1].write_behind.stream", "is required"},
		want{13, "rules[1].write_behind.keys", "needs at least one of the rule's keys"},
		want{16, "rules[2].write_behind.batch", "must be from 1 to 10000"},
		want{16, "rules[2].write_behind.interval", "must be above 0"},
		want{19, "rules[3].write_behind.stream", "already used by rules[2]"},
		want{22, "rules[4].write_behind", "must be a mapping of keys (stream, keys, batch, interval)"},
	)
}

// A Config built in Go (no file) validates write_behind too.
func TestWriteBehindInGo(t *testing.T) {
	c := Default()
	c.Source.User = "u"
	c.Rules = []Rule{{Table: "shop.a", Keys: []string{"a:{id}"}, WriteBehind: WriteBehindConfig{Keys: []string{"a:{id}"}}}}
	checkProblems(t, c.Validate(), want{0, "rules[0].write_behind.stream", "is required"})
	c.Rules[0].WriteBehind.Stream = "wb:a"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Rules[0].WriteBehind.Owned, []int{0}) {
		t.Errorf("owned = %v", c.Rules[0].WriteBehind.Owned)
	}
}
