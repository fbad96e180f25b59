package source

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/writebehind"
)

// Least privileges. cachesync needs, and `config check --online` accepts:
//
//   - REPLICATION SLAVE and REPLICATION CLIENT ON *.* (the binlog dump and
//     SHOW MASTER/BINLOG STATUS, SHOW BINARY LOGS). MariaDB 10.5+ prints
//     REPLICATION CLIENT as BINLOG MONITOR and accepts REPLICATION REPLICA
//     for REPLICATION SLAVE; those names are the same privileges.
//   - SELECT on each mapped database (db.*) or on the mapped tables (their
//     schema is read to decode rows; backfill reads rows).
//   - only when some rule has write_behind, in that rule's database: SELECT,
//     INSERT, UPDATE, DELETE on the write-behind table (the flusher upserts
//     and deletes rows) and CREATE, SELECT, INSERT, UPDATE on
//     cachesync_wb_offsets (CREATE TABLE IF NOT EXISTS, SELECT ... FOR
//     UPDATE, INSERT ... ON DUPLICATE KEY UPDATE); a database-level grant of
//     those (db.*) is accepted too.
//
// Everything else the source user holds is reported by ExtraPrivileges.
// Roles granted to the user (and to those roles) are read with SHOW GRANTS
// FOR the role and examined the same way; a role whose grants cannot be read
// is named in a note.

// ExtraPrivilege is one privilege the source user holds that cachesync does
// not need, with the statements that take it away (and, when the privilege
// also covered something cachesync needs, grant that narrowly).
type ExtraPrivilege struct {
	Account   string // the user, or the role that holds it
	Privilege string // e.g. SUPER, SELECT, ALL PRIVILEGES, GRANT OPTION
	On        string // e.g. *.*, `shop`.*
	Fix       string // REVOKE ... [; GRANT ...]
	Role      bool   // Account is a role granted to the source user
}

func (e ExtraPrivilege) String() string {
	who := "source user " + e.Account
	if e.Role {
		who = "role " + e.Account + ", granted to the source user,"
	}
	return fmt.Sprintf("%s has %s ON %s, more than cachesync needs: %s", who, e.Privilege, e.On, e.Fix)
}

// PrivilegeReport is what ExtraPrivileges found.
type PrivilegeReport struct {
	Extra []ExtraPrivilege
	Notes []string // grants not examined (lines that could not be read, roles whose grants could not be)
	Roles []string // roles the grants give, as printed (`r` or `r`@`h`)
}

// CheckPrivileges reads the source user's grants and reports the privileges
// beyond what cachesync needs for rules (see the top of this file).
func CheckPrivileges(ctx context.Context, src config.SourceConfig, rules []*config.Rule) (PrivilegeReport, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return PrivilegeReport{}, err
	}
	defer conn.Close()
	r, err := conn.Execute("SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return PrivilegeReport{}, fmt.Errorf("source: SHOW GRANTS failed: %w", err)
	}
	rep := ExtraPrivileges(resultLines(r), rules)
	// Roles granted to the user (and to those roles) hold privileges too:
	// read each one's grants, a bounded number of them.
	queue, seen, path := rep.Roles, map[string]bool{}, map[string]string{}
	for _, r := range rep.Roles {
		path[r] = r
	}
	for len(queue) > 0 && len(seen) < 64 {
		role := queue[0]
		queue = queue[1:]
		if seen[role] {
			continue
		}
		seen[role] = true
		rr, err := roleGrants(conn, role, path[role])
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("source user is granted role %s, whose grants cannot be read (%v): check them with SHOW GRANTS FOR %s", role, err, role))
			continue
		}
		lines := resultLines(rr)
		for _, line := range lines { // MariaDB lists the roles a role holds too
			if g, ok, _ := ParseGrant(line); ok {
				seen[g.Account] = true
			}
		}
		sub := ExtraPrivileges(lines, rules)
		for _, e := range sub.Extra {
			e.Role = true
			rep.Extra = append(rep.Extra, e)
		}
		rep.Notes = append(rep.Notes, sub.Notes...)
		for _, inner := range sub.Roles {
			if _, ok := path[inner]; !ok {
				path[inner] = path[role] // reached through the same role the user has
			}
		}
		queue = append(queue, sub.Roles...)
	}
	return rep, nil
}

// roleGrants reads SHOW GRANTS FOR role. MariaDB lets a user see a role's
// grants only while that role (or one holding it) is its current role, so
// on a refusal it tries again under SET ROLE top, the role granted to the
// user through which this one was reached, and goes back to no role.
func roleGrants(conn *client.Conn, role, top string) (*mysql.Result, error) {
	r, err := conn.Execute("SHOW GRANTS FOR " + role)
	if err == nil || ErrorCode(err) != 1044 && ErrorCode(err) != 1142 {
		return r, err
	}
	if _, serr := conn.Execute("SET ROLE " + top); serr != nil {
		return nil, err
	}
	defer conn.Execute("SET ROLE NONE") //nolint:errcheck // the connection is closed right after
	return conn.Execute("SHOW GRANTS FOR " + role)
}

func resultLines(r *mysql.Result) []string {
	var lines []string
	for i := 0; i < r.RowNumber(); i++ {
		g, _ := r.GetString(i, 0)
		lines = append(lines, g)
	}
	return lines
}

// ExtraPrivileges compares SHOW GRANTS lines with what rules need.
func ExtraPrivileges(grants []string, rules []*config.Rule) PrivilegeReport {
	n := newNeeds(rules)
	var rep PrivilegeReport
	for _, line := range grants {
		g, ok, err := ParseGrant(line)
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("could not read grant %q (%v): check it by hand", line, err))
			continue
		}
		if !ok {
			continue
		}
		if len(g.Roles) > 0 {
			rep.Roles = append(rep.Roles, g.Roles...)
			continue
		}
		for _, p := range g.Privs {
			if p.Name == "USAGE" || n.needed(p.Name, g.Object) {
				continue
			}
			rep.Extra = append(rep.Extra, ExtraPrivilege{
				Account:   g.Account,
				Privilege: p.String(),
				On:        g.Object.Text,
				Fix:       n.fix(g.Account, p, g.Object),
			})
		}
		if g.GrantOption {
			rep.Extra = append(rep.Extra, ExtraPrivilege{
				Account:   g.Account,
				Privilege: "GRANT OPTION",
				On:        g.Object.Text,
				Fix:       fmt.Sprintf("REVOKE GRANT OPTION ON %s FROM %s", g.Object.Text, g.Account),
			})
		}
	}
	return rep
}

// The privileges cachesync needs on *.*, under every name servers print.
var replicationPrivs = map[string]string{
	"REPLICATION SLAVE":   "REPLICATION SLAVE",
	"REPLICATION REPLICA": "REPLICATION SLAVE",
	"REPLICATION CLIENT":  "REPLICATION CLIENT",
	"BINLOG MONITOR":      "REPLICATION CLIENT",
}

// tableRef is a database and a table ("*": all its tables).
type tableRef struct{ db, table string }

func (t tableRef) text() string {
	if t.table == "*" {
		return QuoteIdent(t.db) + ".*"
	}
	return QuoteIdent(t.db) + "." + QuoteIdent(t.table)
}

type needs struct {
	rules   []*config.Rule
	wbDBs   map[string]bool
	narrow  map[string][]tableRef // privilege → where to grant it narrowly, in order
	privSeq []string              // privileges of narrow, in README order
}

func ruleNames(r *config.Rule) (db, glob string) {
	if r.DB != "" || r.TableGlob != "" {
		return r.DB, r.TableGlob
	}
	db, glob, _ = strings.Cut(r.Table, ".")
	return db, glob
}

func newNeeds(rules []*config.Rule) *needs {
	n := &needs{rules: rules, wbDBs: map[string]bool{}, narrow: map[string][]tableRef{},
		privSeq: []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE"}}
	add := func(priv string, t tableRef) {
		for _, have := range n.narrow[priv] {
			if have == t || have.db == t.db && have.table == "*" {
				return
			}
		}
		n.narrow[priv] = append(n.narrow[priv], t)
	}
	for _, r := range rules {
		db, _ := ruleNames(r)
		add("SELECT", tableRef{db, "*"})
	}
	for _, r := range rules {
		if !r.WriteBehind.Enabled() {
			continue
		}
		db, glob := ruleNames(r)
		n.wbDBs[db] = true
		tbl := glob
		if strings.ContainsAny(glob, "*?") {
			tbl = "*"
		}
		for _, p := range []string{"INSERT", "UPDATE", "DELETE"} {
			add(p, tableRef{db, tbl})
		}
		for _, p := range []string{"INSERT", "UPDATE", "CREATE"} {
			add(p, tableRef{db, writebehind.OffsetsTable})
		}
	}
	return n
}

// needed reports whether priv on o is one cachesync needs.
func (n *needs) needed(priv string, o Object) bool {
	if o.Kind != "" {
		return false
	}
	if o.global() {
		_, ok := replicationPrivs[priv]
		return ok
	}
	if o.DB == "*" || hasWildcard(o.DB, '%') {
		return false // every database, or a pattern over databases
	}
	db := unescapeLike(o.DB)
	switch priv {
	case "SELECT":
		for _, r := range n.rules {
			rdb, _ := ruleNames(r)
			if rdb != db {
				continue
			}
			if o.Table == "*" || r.Matches(rdb, o.Table) || r.WriteBehind.Enabled() && o.Table == writebehind.OffsetsTable {
				return true
			}
		}
	case "INSERT", "UPDATE", "DELETE", "CREATE":
		if !n.wbDBs[db] {
			return false
		}
		if o.Table == "*" {
			return true // a database-level grant in a write-behind database
		}
		if o.Table == writebehind.OffsetsTable {
			return priv != "DELETE"
		}
		if priv == "CREATE" {
			return false
		}
		for _, r := range n.rules {
			rdb, _ := ruleNames(r)
			if r.WriteBehind.Enabled() && r.Matches(rdb, o.Table) {
				return true
			}
		}
	}
	return false
}

// fix is the statements that take priv on o away and, where o covered
// something cachesync needs, grant that narrowly first.
func (n *needs) fix(account string, p Priv, o Object) string {
	stmts := []string{fmt.Sprintf("REVOKE %s ON %s FROM %s", p, o.Text, account)}
	if o.Kind != "" || p.Columns != "" {
		return stmts[0]
	}
	privs := []string{p.Name}
	all := p.Name == "ALL" || p.Name == "ALL PRIVILEGES"
	if all {
		privs = n.privSeq
		if o.global() {
			stmts = append(stmts, fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s", account))
		}
	}
	// Group the narrow grants this object covered by where they go.
	var where []tableRef
	what := map[tableRef][]string{}
	for _, priv := range privs {
		for _, t := range n.narrow[priv] {
			if !covers(o, t) {
				continue
			}
			if what[t] == nil {
				where = append(where, t)
			}
			what[t] = append(what[t], priv)
		}
	}
	for _, t := range where {
		stmts = append(stmts, fmt.Sprintf("GRANT %s ON %s TO %s", strings.Join(what[t], ", "), t.text(), account))
	}
	return strings.Join(stmts, "; ")
}

// covers reports whether a grant on o applies to t.
func covers(o Object, t tableRef) bool {
	if o.Kind != "" {
		return false
	}
	if o.DB != "*" && !grantDB().Match(o.DB, t.db) {
		return false
	}
	return o.Table == "*" || o.Table == t.table
}

// hasWildcard reports whether the grant-table pattern s has an unescaped c.
func hasWildcard(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return true
		}
	}
	return false
}

// unescapeLike removes the backslashes of \_ and \% (and \\).
func unescapeLike(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// grantDB is the pattern language of a grant's database name in MySQL's
// grant tables: % any run, _ one character, backslash escapes.
func grantDB() config.Wildcards { return config.Wildcards{Many: '%', One: '_', Escape: true} }
