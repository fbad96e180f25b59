package source

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// Lines as MariaDB 10.11 (captured from the test server) and MySQL 8.0 print
// them for SHOW GRANTS.
func TestParseGrant(t *testing.T) {
	const pw = " IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'"
	for _, c := range []struct {
		name, line string
		want       Grant
		skip       bool
	}{
		{"mariadb replication", "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u0`@`%`" + pw,
			Grant{Privs: []Priv{{Name: "REPLICATION SLAVE"}, {Name: "BINLOG MONITOR"}}, Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "`u0`@`%`"}, false},
		{"mariadb db", "GRANT SELECT ON `shop`.* TO `u0`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}}, Object: Object{DB: "shop", Table: "*", Text: "`shop`.*"}, Account: "`u0`@`%`"}, false},
		{"mariadb all with grant option", "GRANT ALL PRIVILEGES ON *.* TO `u3`@`%`" + pw + " WITH GRANT OPTION",
			Grant{Privs: []Priv{{Name: "ALL PRIVILEGES"}}, Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "`u3`@`%`", GrantOption: true}, false},
		{"mariadb columns", "GRANT SELECT, SELECT (`email`, `id`), INSERT, UPDATE, UPDATE (`email`), DELETE ON `shop`.`users` TO `u5`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}, {Name: "SELECT", Columns: "(`email`, `id`)"}, {Name: "INSERT"}, {Name: "UPDATE"}, {Name: "UPDATE", Columns: "(`email`)"}, {Name: "DELETE"}},
				Object: Object{DB: "shop", Table: "users", Text: "`shop`.`users`"}, Account: "`u5`@`%`"}, false},
		{"backquotes in names", "GRANT SELECT ON `we``ird-db`.`my``tab` TO `u``6`@`10.0.%`",
			Grant{Privs: []Priv{{Name: "SELECT"}}, Object: Object{DB: "we`ird-db", Table: "my`tab", Text: "`we``ird-db`.`my``tab`"}, Account: "`u``6`@`10.0.%`"}, false},
		{"mariadb require ssl", "GRANT USAGE ON *.* TO `tls_user`@`%`" + pw + " REQUIRE SSL",
			Grant{Privs: []Priv{{Name: "USAGE"}}, Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "`tls_user`@`%`"}, false},
		{"mariadb proxy", "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
			Grant{Privs: []Priv{{Name: "PROXY"}}, Object: Object{Kind: "ACCOUNT", Text: "''@'%'"}, Account: "'root'@'localhost'", GrantOption: true}, false},
		{"mariadb role", "GRANT `app_ro` TO `u`@`%`", Grant{Account: "`u`@`%`", Roles: []string{"`app_ro`"}}, false},
		{"mariadb default role", "SET DEFAULT ROLE `app_ro` FOR `u`@`%`", Grant{}, true},
		{"mysql8 static", "GRANT SELECT, RELOAD, PROCESS, SUPER, REPLICATION SLAVE, REPLICATION CLIENT, SHOW VIEW ON *.* TO `cs`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}, {Name: "RELOAD"}, {Name: "PROCESS"}, {Name: "SUPER"}, {Name: "REPLICATION SLAVE"}, {Name: "REPLICATION CLIENT"}, {Name: "SHOW VIEW"}},
				Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "`cs`@`%`"}, false},
		{"mysql8 dynamic", "GRANT BACKUP_ADMIN,BINLOG_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `root`@`localhost` WITH GRANT OPTION",
			Grant{Privs: []Priv{{Name: "BACKUP_ADMIN"}, {Name: "BINLOG_ADMIN"}, {Name: "REPLICATION_SLAVE_ADMIN"}}, Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "`root`@`localhost`", GrantOption: true}, false},
		{"mysql8 proxy", "GRANT PROXY ON ``@`` TO `root`@`localhost` WITH GRANT OPTION",
			Grant{Privs: []Priv{{Name: "PROXY"}}, Object: Object{Kind: "ACCOUNT", Text: "``@``"}, Account: "`root`@`localhost`", GrantOption: true}, false},
		{"mysql8 roles", "GRANT `r1`@`%`,`r2`@`%` TO `cs`@`%`", Grant{Account: "`cs`@`%`", Roles: []string{"`r1`@`%`", "`r2`@`%`"}}, false},
		{"mysql8 partial revoke", "REVOKE INSERT ON `mysql`.* FROM `cs`@`%`", Grant{}, true},
		{"mysql8 escaped wildcard", "GRANT SELECT ON `shop\\_db`.* TO `cs`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}}, Object: Object{DB: "shop\\_db", Table: "*", Text: "`shop\\_db`.*"}, Account: "`cs`@`%`"}, false},
		{"mysql 5.7 quotes", "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cs'@'%'",
			Grant{Privs: []Priv{{Name: "REPLICATION SLAVE"}, {Name: "REPLICATION CLIENT"}}, Object: Object{DB: "*", Table: "*", Text: "*.*"}, Account: "'cs'@'%'"}, false},
		{"procedure", "GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `shop`.`p` TO `cs`@`%`",
			Grant{Privs: []Priv{{Name: "EXECUTE"}, {Name: "ALTER ROUTINE"}}, Object: Object{Kind: "PROCEDURE", DB: "shop", Table: "p", Text: "PROCEDURE `shop`.`p`"}, Account: "`cs`@`%`"}, false},
		{"lower case and TABLE", "grant select on table `shop`.`users` to `cs`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}}, Object: Object{DB: "shop", Table: "users", Text: "table `shop`.`users`"}, Account: "`cs`@`%`"}, false},
		{"name that is a keyword", "GRANT SELECT ON `on`.`to` TO `to`@`%`",
			Grant{Privs: []Priv{{Name: "SELECT"}}, Object: Object{DB: "on", Table: "to", Text: "`on`.`to`"}, Account: "`to`@`%`"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, ok, err := ParseGrant(c.line)
			if err != nil {
				t.Fatal(err)
			}
			if ok == c.skip {
				t.Fatalf("ok = %v for %q", ok, c.line)
			}
			if !reflect.DeepEqual(g, c.want) {
				t.Fatalf("ParseGrant(%q)\n got %+v\nwant %+v", c.line, g, c.want)
			}
		})
	}
	for _, bad := range []string{"GRANT SELECT ON `shop`.* TO", "GRANT SELECT ON TO `u`@`%`", "GRANT SELECT ON `shop TO `u`@`%`", "GRANT SELECT"} {
		if _, _, err := ParseGrant(bad); err == nil {
			t.Errorf("ParseGrant(%q): no error", bad)
		}
	}
}

func TestExtraPrivileges(t *testing.T) {
	const acct = "`cs`@`%`"
	to := " TO " + acct
	for _, c := range []struct {
		name   string
		rules  string
		grants []string
		want   []string // "PRIV ON OBJ => FIX"
		notes  int
	}{
		{"least, mysql names", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT ON `shop`.*" + to,
		}, nil, 0},
		{"least, mariadb names and table level", "shop.users; shop.orders_*", []string{
			"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.*" + to + " IDENTIFIED BY PASSWORD '*D8'",
			"GRANT SELECT ON `shop`.`users`" + to,
			"GRANT SELECT ON `shop`.`orders_eu`" + to,
			"GRANT SELECT (`id`) ON `shop`.`users`" + to,
		}, nil, 0},
		{"replication replica alias", "shop.users", []string{"GRANT REPLICATION REPLICA, BINLOG MONITOR ON *.*" + to}, nil, 0},
		{"least with write-behind", "shop.users; shop.stock wb=wb:stock", []string{
			"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.*" + to,
			"GRANT SELECT ON `shop`.*" + to,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.`stock`" + to,
			"GRANT SELECT, INSERT, UPDATE, CREATE ON `shop`.`cachesync_wb_offsets`" + to,
		}, nil, 0},
		{"write-behind database level", "shop.stock wb=wb:stock", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.*" + to,
		}, nil, 0},
		{"writes without write-behind", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.*" + to,
		}, []string{
			"INSERT ON `shop`.* => REVOKE INSERT ON `shop`.* FROM `cs`@`%`",
			"UPDATE ON `shop`.* => REVOKE UPDATE ON `shop`.* FROM `cs`@`%`",
			"DELETE ON `shop`.* => REVOKE DELETE ON `shop`.* FROM `cs`@`%`",
		}, 0},
		{"write-behind table: delete on offsets, create on table, other table", "shop.stock wb=wb:stock", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT ON `shop`.*" + to,
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.`stock`" + to,
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.`cachesync_wb_offsets`" + to,
			"GRANT INSERT ON `shop`.`users`" + to,
		}, []string{
			"CREATE ON `shop`.`stock` => REVOKE CREATE ON `shop`.`stock` FROM `cs`@`%`",
			"DELETE ON `shop`.`cachesync_wb_offsets` => REVOKE DELETE ON `shop`.`cachesync_wb_offsets` FROM `cs`@`%`",
			"INSERT ON `shop`.`users` => REVOKE INSERT ON `shop`.`users` FROM `cs`@`%`",
		}, 0},
		{"global extras", "shop.users", []string{
			"GRANT SELECT, INSERT, PROCESS, FILE, SUPER, REPLICATION SLAVE, BINLOG MONITOR, REPLICATION SLAVE ADMIN ON *.*" + to,
		}, []string{
			"SELECT ON *.* => REVOKE SELECT ON *.* FROM `cs`@`%`; GRANT SELECT ON `shop`.* TO `cs`@`%`",
			"INSERT ON *.* => REVOKE INSERT ON *.* FROM `cs`@`%`",
			"PROCESS ON *.* => REVOKE PROCESS ON *.* FROM `cs`@`%`",
			"FILE ON *.* => REVOKE FILE ON *.* FROM `cs`@`%`",
			"SUPER ON *.* => REVOKE SUPER ON *.* FROM `cs`@`%`",
			"REPLICATION SLAVE ADMIN ON *.* => REVOKE REPLICATION SLAVE ADMIN ON *.* FROM `cs`@`%`",
		}, 0},
		{"all privileges with grant option", "shop.users; shop.stock wb=wb:stock; blog.posts", []string{
			"GRANT ALL PRIVILEGES ON *.*" + to + " IDENTIFIED BY PASSWORD '*D8' WITH GRANT OPTION",
		}, []string{
			"ALL PRIVILEGES ON *.* => REVOKE ALL PRIVILEGES ON *.* FROM `cs`@`%`; GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cs`@`%`; " +
				"GRANT SELECT ON `shop`.* TO `cs`@`%`; GRANT SELECT ON `blog`.* TO `cs`@`%`; " +
				"GRANT INSERT, UPDATE, DELETE ON `shop`.`stock` TO `cs`@`%`; GRANT INSERT, UPDATE, CREATE ON `shop`.`cachesync_wb_offsets` TO `cs`@`%`",
			"GRANT OPTION ON *.* => REVOKE GRANT OPTION ON *.* FROM `cs`@`%`",
		}, 0},
		{"all on a database", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT ALL PRIVILEGES ON `shop`.*" + to,
		}, []string{
			"ALL PRIVILEGES ON `shop`.* => REVOKE ALL PRIVILEGES ON `shop`.* FROM `cs`@`%`; GRANT SELECT ON `shop`.* TO `cs`@`%`",
		}, 0},
		{"other databases and wildcards", "shop_x.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT ON `shop\\_x`.*" + to,
			"GRANT SELECT ON `blog`.*" + to,
			"GRANT SELECT ON `sh%`.*" + to,
		}, []string{
			"SELECT ON `blog`.* => REVOKE SELECT ON `blog`.* FROM `cs`@`%`",
			"SELECT ON `sh%`.* => REVOKE SELECT ON `sh%`.* FROM `cs`@`%`; GRANT SELECT ON `shop_x`.* TO `cs`@`%`",
		}, 0},
		{"mysql8 dynamic, proxy, routines", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT ON `shop`.*" + to,
			"GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.*" + to,
			"GRANT PROXY ON ``@``" + to,
			"GRANT EXECUTE ON PROCEDURE `shop`.`p`" + to,
		}, []string{
			"BACKUP_ADMIN ON *.* => REVOKE BACKUP_ADMIN ON *.* FROM `cs`@`%`",
			"REPLICATION_SLAVE_ADMIN ON *.* => REVOKE REPLICATION_SLAVE_ADMIN ON *.* FROM `cs`@`%`",
			"PROXY ON ``@`` => REVOKE PROXY ON ``@`` FROM `cs`@`%`",
			"EXECUTE ON PROCEDURE `shop`.`p` => REVOKE EXECUTE ON PROCEDURE `shop`.`p` FROM `cs`@`%`",
		}, 0},
		{"column extra", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT, UPDATE (`email`) ON `shop`.`users`" + to,
		}, []string{
			"UPDATE (`email`) ON `shop`.`users` => REVOKE UPDATE (`email`) ON `shop`.`users` FROM `cs`@`%`",
		}, 0},
		{"roles are listed for CheckPrivileges to read", "shop.users", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*" + to,
			"GRANT SELECT ON `shop`.*" + to,
			"GRANT `admin`" + to,
			"SET DEFAULT ROLE `admin` FOR " + acct,
		}, nil, 0},
		{"unreadable line is a note", "shop.users", []string{"GRANT SELECT ON `shop" + to}, nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := ExtraPrivileges(c.grants, testenv.Rules(t, c.rules))
			var got []string
			for _, e := range rep.Extra {
				if e.Account != acct {
					t.Errorf("account %q, want %q", e.Account, acct)
				}
				got = append(got, e.Privilege+" ON "+e.On+" => "+e.Fix)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("extras\n got %q\nwant %q", got, c.want)
			}
			if len(rep.Notes) != c.notes {
				t.Errorf("notes %q, want %d", rep.Notes, c.notes)
			}
		})
	}
}

// The grants of real MariaDB accounts: a least-privilege user has no
// extras; one with SUPER and INSERT on *.* has exactly those.
func TestCheckPrivilegesMariaDB(t *testing.T) {
	t.Parallel()
	m := testenv.SharedMariaDB(t)
	db := m.NewDatabase(t)
	m.Exec(t, "CREATE TABLE `"+db+"`.users (id INT PRIMARY KEY)")
	m.Exec(t, "CREATE TABLE `"+db+"`.stock (sku INT PRIMARY KEY, n INT)")
	rules := testenv.Rules(t, db+".users; "+db+".stock wb=wb:"+db)
	src := config.Default().Source
	src.Addr, src.Flavor = m.Addr, "mariadb"
	q := "`" + db + "`"
	for _, c := range []struct {
		user   string
		grants []string
		want   []string
	}{
		{"least", []string{
			"REPLICATION SLAVE, REPLICATION CLIENT ON *.*",
			"SELECT ON " + q + ".*",
			"SELECT, INSERT, UPDATE, DELETE ON " + q + ".stock",
			"CREATE, SELECT, INSERT, UPDATE ON " + q + ".cachesync_wb_offsets",
		}, nil},
		{"extra", []string{
			"REPLICATION SLAVE, REPLICATION CLIENT, SUPER, INSERT ON *.*",
			"SELECT ON " + q + ".*",
		}, []string{"INSERT ON *.*", "SUPER ON *.*"}},
	} {
		src.User, src.Password = "cs_"+strings.TrimPrefix(db, "t_")+"_"+c.user, "pw"
		if len(src.User) > 80 {
			src.User = src.User[:80]
		}
		m.CreateUser(t, src.User, "pw", c.grants...)
		rep, err := CheckPrivileges(context.Background(), src, rules)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range rep.Extra {
			got = append(got, e.Privilege+" ON "+e.On)
			if !strings.HasPrefix(e.Fix, "REVOKE "+e.Privilege+" ON *.* FROM `"+src.User+"`@`") {
				t.Errorf("fix %q", e.Fix)
			}
		}
		if !reflect.DeepEqual(got, c.want) || len(rep.Notes) > 0 {
			t.Errorf("%s: extras %q (notes %q), want %q", c.user, got, rep.Notes, c.want)
		}
	}
}
