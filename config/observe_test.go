package config

import (
	"reflect"
	"testing"
	"time"
)

func TestObserveDefaults(t *testing.T) {
	cfg := mustParse(t, minimal, nil)
	o := cfg.Observe
	if o.Sample != 0.01 || o.Queue != 10000 || o.Rate != 200 ||
		!reflect.DeepEqual(o.WindowDurations(), []time.Duration{time.Second, 10 * time.Second, time.Minute}) {
		t.Errorf("defaults: %+v", o)
	}
	if len(cfg.ObservedRules()) != 0 {
		t.Error("a rule without observe must not be observed")
	}
}

func TestObserveExplicit(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
observe: {sample: 0.5, windows: [200ms, 2s], queue: 10, rate: 50}
rules:
  - table: shop.users
    keys: ["user:{id}"]
    observe: {column: version, field: "$.meta.version"}
  - table: shop.carts
    keys: ["cart:{id}"]
    observe: {column: ver, hash_field: ver}
  - table: shop.items
    keys: ["item:{id}"]
    observe: {column: version, stamp: cacheaside}
`, nil)
	o := cfg.Observe
	if o.Sample != 0.5 || o.Queue != 10 || o.Rate != 50 ||
		!reflect.DeepEqual(o.WindowDurations(), []time.Duration{200 * time.Millisecond, 2 * time.Second}) {
		t.Errorf("observe: %+v", o)
	}
	if got := cfg.ObservedRules(); len(got) != 3 {
		t.Fatalf("ObservedRules = %d rules, want 3", len(got))
	}
	if p := cfg.Rules[0].Observe.FieldPath(); !reflect.DeepEqual(p, []string{"meta", "version"}) {
		t.Errorf("FieldPath = %q", p)
	}
}

func TestObserveProblems(t *testing.T) {
	_, err := Parse([]byte(`source: {user: u}
observe:
  sample: 2
  windows: [10s, 1s]
  queue: 0
  rate: -1
rules:
  - table: shop.users
    keys: ["user:{id}"]
    observe: {field: "$.version"}
  - table: shop.carts
    keys: ["cart:{id}"]
    observe: {column: v, field: "$.v", hash_field: v}
  - table: shop.items
    keys: ["item:{id}"]
    observe: {column: v, stamp: lease}
  - table: shop.x
    keys: ["x:{id}"]
    observe: {column: v, field: "$.a..b"}
  - table: shop.y
    keys: ["y:{id}"]
    observe: {column: v}
`), "test.yaml", nil)
	checkProblems(t, err,
		want{3, "observe.sample", "fraction"},
		want{4, "observe.windows[1]", "increasing order"},
		want{5, "observe.queue", "at least 1"},
		want{6, "observe.rate", "at least 1"},
		want{10, "rules[0].observe.column", "is required"},
		want{13, "rules[1].observe", "only one of"},
		want{16, "rules[2].observe.stamp", "must be cacheaside"},
		want{19, "rules[3].observe.field", "dotted path"},
		want{22, "rules[4].observe", "needs one of"},
	)
}
