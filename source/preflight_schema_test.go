package source

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// CheckSchema against a live server: what makes a config unusable is a
// problem naming the rule, the template or watch column and the table; a
// table that does not exist yet is only missing; a pattern is checked on
// every table it matches; a user without SELECT is told to grant it.
func TestCheckSchema(t *testing.T) {
	db := testenv.SharedMariaDB(t)
	name := db.NewDatabase(t)
	for _, q := range []string{
		"CREATE TABLE `" + name + "`.users (id INT PRIMARY KEY, Email VARCHAR(64), `名前` VARCHAR(16))",
		"CREATE TABLE `" + name + "`.orders_1 (id INT PRIMARY KEY, user_id INT)",
		"CREATE TABLE `" + name + "`.orders_2 (id INT PRIMARY KEY)", // lacks user_id
	} {
		db.Exec(t, q)
	}
	user := "schema_" + name
	db.CreateUser(t, user, "pw", fmt.Sprintf("SELECT ON `%s`.users", name))

	src := config.Default().Source
	src.Addr, src.User, src.Flavor = db.Addr, "root", "mariadb"
	ctx := context.Background()

	cases := []struct {
		name     string
		user     string
		rules    string
		problems []string // a piece of each problem, in order
		missing  int
	}{
		{name: "all good, names compared case-insensitively, non-ASCII column", user: "root",
			rules: "  - {table: db.users, keys: [\"user:{ID}\", \"user:email:{email}\", \"n:{名前}\"], watch: [EMAIL]}\n" +
				"  - {table: db.orders_1, keys: [\"o:{id}:{user_id}\"]}\n"},
		{name: "unknown template column", user: "root",
			rules:    "  - {table: db.users, keys: [\"user:{id}\", \"user:nick:{nick}\"]}\n",
			problems: []string{`key template "user:nick:{nick}" names column "nick", which ` + name + `.users does not have`}},
		{name: "unknown watch column", user: "root",
			rules:    "  - {table: db.users, keys: [\"user:{id}\"], watch: [id, phone]}\n",
			problems: []string{`watch column "phone" does not exist in ` + name + `.users`}},
		{name: "pattern: every matching table must have the column", user: "root",
			rules:    "  - {table: db.orders_*, keys: [\"u:{user_id}:orders\"]}\n",
			problems: []string{`names column "user_id", which ` + name + `.orders_2 does not have`}},
		{name: "cascade keys use the parent's columns", user: "root",
			rules: "  - {table: db.users, keys: [\"user:{id}\"], cascade: [{rule: o, keys: [\"u:{id}:orders\", \"u:{user_id}:x\"]}]}\n" +
				"  - {table: db.orders_1, name: o, keys: [\"o:{id}:{user_id}\"]}\n",
			problems: []string{`cascade key template "u:{user_id}:x" names column "user_id", which ` + name + `.users does not have`}},
		{name: "no such table is missing, not a problem", user: "root",
			rules:   "  - {table: db.nosuch, keys: [\"x:{id}\"]}\n  - {table: db.none_*, keys: [\"y:{id}\"]}\n",
			missing: 2},
		{name: "no SELECT on the table", user: user,
			rules:    "  - {table: db.orders_1, keys: [\"o:{id}\"]}\n",
			problems: []string{`user "` + user + `" may not read ` + name + `.orders_1: GRANT SELECT ON ` + name + ".*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := src
			s.User = c.user
			if c.user != "root" {
				s.Password = config.Secret("pw")
			}
			rep, err := CheckSchema(ctx, s, testenv.RulesFromText(t, "rules:\n"+c.rules, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != len(c.problems) {
				t.Fatalf("problems %v, want %d", rep.Problems, len(c.problems))
			}
			for i, want := range c.problems {
				if got := rep.Problems[i].Error(); !strings.Contains(got, want) || !strings.Contains(got, "(line ") {
					t.Errorf("problem %q, want it to hold %q and the rule's line", got, want)
				}
			}
			if len(rep.Missing) != c.missing {
				t.Errorf("missing %q, want %d", rep.Missing, c.missing)
			}
		})
	}
}
