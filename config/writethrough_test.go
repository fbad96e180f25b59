package config

import (
	"reflect"
	"testing"
	"time"
)

func TestWriteThroughRule(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - table: shop.users
    keys: ["user:{id}", "users:team:{team_id}", "user:email:{email}"]
    action: set
    set_keys: ["user:email:{EMAIL}", "user:{id}"]
    value: {json: [id, name, "prénom_ü"]}
    ttl: 1h
    ttl_jitter: 10m
  - table: shop.carts
    keys: ["cart:{id}"]
    action: set
    value: {hash: [id, total]}
  - table: shop.pages
    keys: ["page:{id}"]
`, nil)
	r := &cfg.Rules[0]
	if !r.Sets() || r.RuleAction() != ActionSet || r.Value.IsHash() {
		t.Errorf("rule 0: sets %v action %q hash %v", r.Sets(), r.RuleAction(), r.Value.IsHash())
	}
	if !reflect.DeepEqual(r.SetKeys, []int{2, 0}) {
		t.Errorf("set keys = %v, want [2 0] (the page key stays invalidated)", r.SetKeys)
	}
	if got := r.Value.Columns(); !reflect.DeepEqual(got, []string{"id", "name", "prénom_ü"}) {
		t.Errorf("columns = %q", got)
	}
	if r.ExpireIn(0) != time.Hour || r.ExpireIn(0.5) != time.Hour+5*time.Minute {
		t.Errorf("expire: %v %v", r.ExpireIn(0), r.ExpireIn(0.5))
	}
	c := &cfg.Rules[1]
	if !c.Sets() || !c.Value.IsHash() || !reflect.DeepEqual(c.SetKeys, []int{0}) || c.ExpireIn(0.9) != 0 {
		t.Errorf("rule 1: %+v expire %v", c, c.ExpireIn(0.9))
	}
	p := &cfg.Rules[2]
	if p.Sets() || p.RuleAction() != ActionDelete || p.SetKeys != nil {
		t.Errorf("rule 2 must invalidate: action %q set keys %v", p.RuleAction(), p.SetKeys)
	}
}

func TestWriteThroughProblems(t *testing.T) {
	_, err := Parse([]byte(`source: {user: u}
rules:
  - table: shop.a
    keys: ["a:{id}"]
    action: upsert
  - table: shop.b
    keys: ["b:{id}"]
    value: {json: [id]}
    ttl: 1m
  - table: shop.c
    keys: ["c:{id}"]
    action: set
  - table: shop.d
    keys: ["d:{id}"]
    action: set
    value:
      json: [id]
      hash: [id]
  - table: shop.e
    keys: ["e:{id}"]
    action: set
    set_keys: ["e:{uuid}", "e:{ID}", "e:{id}"]
    value:
      hash: [id, ID, "bad col"]
    ttl: -1s
  - table: shop.f
    keys: ["f:{id}"]
    action: set
    value: {json: [id]}
    ttl_jitter: 1s
    write_behind: {stream: wb:f, keys: ["f:{id}"]}
    watch: [id]
`), "test.yaml", nil)
	checkProblems(t, err,
		want{5, "rules[0].action", "must be delete or set"},
		want{8, "rules[1].value", "only with action: set"},
		want{9, "rules[1].ttl", "only with action: set"},
		want{10, "rules[2].value", "is required with action: set"},
		want{16, "rules[3].value", "sets both json and hash"},
		want{22, "rules[4].set_keys[0]", "not one of the rule's keys"},
		want{22, "rules[4].set_keys[2]", "same key as set_keys[1]"},
		want{24, "rules[4].value.hash[1]", "repeats [0]"},
		want{24, "rules[4].value.hash[2]", "column name"},
		want{25, "rules[4].ttl", "must be 0"},
		want{28, "rules[5].action", "cannot go with write_behind"},
		want{30, "rules[5].ttl_jitter", "needs a ttl"},
		want{32, "rules[5].watch", "cannot go with action: set"},
	)
}
