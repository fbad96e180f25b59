package config

import (
	"reflect"
	"regexp"
	"testing"
)

func TestRuleMatches(t *testing.T) {
	cases := []struct {
		table string
		yes   []string
		no    []string
	}{
		{"shop.users", []string{"shop.users"}, []string{"shop.Users", "Shop.users", "shop.users2", "shop.user", "shop2.users", "xshop.users"}},
		{"shop.orders_*", []string{"shop.orders_", "shop.orders_2024", "shop.orders_a.b"}, []string{"shop.orders", "shop.order_1", "other.orders_1"}},
		{"shop.t?", []string{"shop.t1", "shop.té"}, []string{"shop.t", "shop.t12"}},
		{"shop.*", []string{"shop.a", "shop."}, []string{"shopx.a"}},
		{"shop.*_log_*", []string{"shop.a_log_b", "shop._log_", "shop.x_log_y_log_z"}, []string{"shop.a_log", "shop.log_b"}},
		{"my-db.a+b(c)", []string{"my-db.a+b(c)"}, []string{"my-db.aab(c)", "my-db.a+bc"}},
		{"shop.a*b*c", []string{"shop.abc", "shop.aXbYc", "shop.abbc"}, []string{"shop.acb", "shop.ab"}},
	}
	for _, c := range cases {
		r := &Rule{Table: c.table}
		re := regexp.MustCompile(r.TableRegex())
		for _, name := range c.yes {
			db, table, _ := splitTable(name)
			if !r.Matches(db, table) || !re.MatchString(name) {
				t.Errorf("%s should match %s (Matches %v, regexp %v)", c.table, name, r.Matches(db, table), re.MatchString(name))
			}
		}
		for _, name := range c.no {
			db, table, _ := splitTable(name)
			if r.Matches(db, table) || re.MatchString(name) {
				t.Errorf("%s should not match %s (Matches %v, regexp %v)", c.table, name, r.Matches(db, table), re.MatchString(name))
			}
		}
	}
}

func TestTableRegex(t *testing.T) {
	cases := map[string]string{
		"shop.users":    `(?s)^shop\.users$`,
		"shop.orders_*": `(?s)^shop\.orders_.*$`,
		"my-db.t?":      `(?s)^my-db\.t.$`,
		"a.b+c.d":       `(?s)^a\.b\+c\.d$`,
	}
	for table, want := range cases {
		if got := (&Rule{Table: table}).TableRegex(); got != want {
			t.Errorf("%s: TableRegex() = %s, want %s", table, got, want)
		}
	}
}

func TestRulesFor(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - {table: shop.users, keys: ["user:{id}"]}
  - {table: shop.orders_*, keys: ["order:{id}"]}
  - {table: shop.*, keys: ["any:{id}"]}
`, nil)
	got := func(db, table string) (lines []int) {
		for _, r := range cfg.RulesFor(db, table) {
			lines = append(lines, r.Line)
		}
		return lines
	}
	if l := got("shop", "users"); !reflect.DeepEqual(l, []int{3, 5}) {
		t.Errorf("shop.users → rules at lines %v, want [3 5]", l)
	}
	if l := got("shop", "orders_1"); !reflect.DeepEqual(l, []int{4, 5}) {
		t.Errorf("shop.orders_1 → rules at lines %v, want [4 5]", l)
	}
	if l := got("other", "users"); l != nil {
		t.Errorf("other.users → %v, want none", l)
	}
	if r := cfg.RulesFor("shop", "users")[0]; r != &cfg.Rules[0] {
		t.Error("RulesFor must point into cfg.Rules")
	}
}
