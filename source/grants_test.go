package source

import (
	"strings"
	"testing"
)

// SHOW GRANTS lines come from the server: whatever one holds, the parser
// returns an error or a grant, never panics, and a grant it accepts names
// an account and upper-case privileges that appear in the line.
func FuzzParseGrant(f *testing.F) {
	for _, s := range []string{
		"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u0`@`%` IDENTIFIED BY PASSWORD '*D8'",
		"GRANT SELECT, SELECT (`email`, `id`), UPDATE (`email`) ON `shop`.`users` TO `u5`@`%`",
		"GRANT SELECT ON `we``ird-db`.`my``tab` TO `u``6`@`10.0.%`",
		"GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
		"GRANT `r1`@`%`,`r2`@`%` TO `cs`@`%`",
		"SET DEFAULT ROLE `app_ro` FOR `u`@`%`",
		"GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `cs`@`%`",
		"grant select on table `shop`.`users` to `cs`@`%`",
		"GRANT SELECT ON `shop",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		g, ok, err := ParseGrant(line)
		if err != nil || !ok {
			return
		}
		if g.Account == "" {
			t.Fatalf("%q: a grant without an account: %+v", line, g)
		}
		if len(g.Privs) == 0 && len(g.Roles) == 0 {
			t.Fatalf("%q: a grant of nothing: %+v", line, g)
		}
		upper := strings.ToUpper(line)
		for _, p := range g.Privs {
			if p.Name == "" || p.Name != strings.ToUpper(p.Name) {
				t.Fatalf("%q: privilege name %q", line, p.Name)
			}
			for _, w := range strings.Fields(p.Name) {
				if !strings.Contains(upper, w) {
					t.Fatalf("%q: privilege %q is not in the line", line, p.Name)
				}
			}
		}
	})
}
