package canal

import (
	"slices"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
	gocanal "github.com/go-mysql-org/go-mysql/canal"
)

func TestClassifyStatement(t *testing.T) {
	rules := testenv.Rules(t, "shop.users;shop.order_*")
	for _, c := range []struct {
		query, schema string
		affects       bool
		tables        []string
	}{
		{"UPDATE shop.users SET email = 'x' WHERE id = 1", "", true, []string{"shop.users"}},
		{"update `shop`.`users` set email='x'", "", true, []string{"shop.users"}},
		{"use `shop`; DELETE FROM users WHERE id = 2", "", true, []string{"shop.users"}},
		{"/* app=web */ -- note\n  INSERT INTO users VALUES (1)", "shop", true, []string{"shop.users"}},
		{"# hash comment\nREPLACE INTO order_lines VALUES (1)", "shop", true, []string{"shop.order_lines"}},
		{"LOAD DATA INFILE 'x' INTO TABLE shop.users", "", true, []string{"shop.users"}},
		{"INSERT INTO shop.audit SELECT * FROM shop.users", "", true, []string{"shop.users"}}, // conservative: users named
		{"INSERT INTO shop.audit VALUES ('shop.users')", "", false, nil},                      // a string, not a name
		{"INSERT INTO other.users VALUES (1)", "shop", false, nil},
		{"UPDATE audit SET n = n + 1", "shop", false, nil},
		{"SELECT shop.bump(1)", "", true, nil},     // a writing function: any mapped table
		{"DO bump(1)", "shop", true, nil},          // of its schema
		{"CALL other.proc()", "other", false, nil}, // no mapped table in other
		{"COMMIT", "shop", false, nil},
		{"GRANT SELECT ON shop.users TO x", "", false, nil},
		{"CREATE DATABASE shop2", "", false, nil},
		{"UPDATE `we``ird`.users SET a = 1", "", false, nil},
	} {
		eff := classifyStatement(c.query, c.schema, rules)
		if got := eff.affects(rules); got != c.affects || !slices.Equal(eff.tables, c.tables) {
			t.Errorf("%q in %q: affects %v tables %v, want %v %v", c.query, c.schema, got, eff.tables, c.affects, c.tables)
		}
	}
}

func TestTableNames(t *testing.T) {
	got := tableNames("UPDATE `a``b`.c /* d.e */ SET x='f.g' WHERE h . i = 1 -- j.k\n AND l")
	want := [][2]string{{"", "UPDATE"}, {"a`b", "c"}, {"", "SET"}, {"", "x"}, {"", "WHERE"}, {"h", "i"}, {"", "1"}, {"", "AND"}, {"", "l"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// The row-image hook reaches canal's parser by field name; a go-mysql
// upgrade that renames them must fail here, not at a user's start-up.
func TestMarkAbsentColumnsInstalls(t *testing.T) {
	db := sharedMariaDB(t)
	cc := gocanal.NewDefaultConfig()
	cc.Addr, cc.User, cc.Password = db.Addr, "root", ""
	cc.Dump.ExecutionPath = ""
	c, err := gocanal.NewCanal(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := markAbsentColumns(c, nil); err != nil {
		t.Fatal(err)
	}
}
