package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
)

// Preflight checks, before streaming, every server setting cachesync relies
// on, and returns all problems at once, each naming the setting and the fix.
func Preflight(ctx context.Context, src config.SourceConfig) error {
	_, err := PreflightWarnings(ctx, src)
	return err
}

// PreflightWarnings is Preflight that, on the same connection, also returns
// the settings that work but are risky, for a warning: a binlog retention
// under a day.
func PreflightWarnings(ctx context.Context, src config.SourceConfig) ([]string, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := errors.Join(checkServer(conn, src)...); err != nil {
		return nil, err
	}
	return retentionWarnings(conn, src), nil
}

func checkServer(conn *client.Conn, src config.SourceConfig) []error {
	var errs []error
	r, err := conn.Execute("SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, @@GLOBAL.server_id")
	if err != nil {
		return []error{fmt.Errorf("source: reading server settings: %w", err)}
	}
	logBin, _ := r.GetInt(0, 0)
	format, _ := r.GetString(0, 1)
	image, _ := r.GetString(0, 2)
	serverID, _ := r.GetUint(0, 3)
	if logBin != 1 {
		errs = append(errs, fmt.Errorf("source: binary logging is off on %s: start the server with log_bin (and binlog_format=ROW, binlog_row_image=FULL)", src.Addr))
	}
	if !strings.EqualFold(format, "ROW") {
		errs = append(errs, fmt.Errorf("source: binlog_format is %s on %s; cachesync needs ROW: SET GLOBAL binlog_format=ROW and set it in my.cnf", format, src.Addr))
	}
	if !strings.EqualFold(image, "FULL") {
		errs = append(errs, fmt.Errorf("source: binlog_row_image is %s on %s; cachesync needs FULL to see before and after images: SET GLOBAL binlog_row_image=FULL and set it in my.cnf", image, src.Addr))
	}
	if uint64(src.ServerID) == serverID {
		errs = append(errs, fmt.Errorf("source.server_id %d is the primary's own server_id: pick another number, unique among all replicas", src.ServerID))
	}
	errs = append(errs, checkGrants(conn, src)...)
	return errs
}

// checkGrants looks for the replication privileges in SHOW GRANTS. MariaDB
// 10.5+ calls REPLICATION CLIENT "BINLOG MONITOR" and REPLICATION SLAVE
// "REPLICATION REPLICA" in some versions; ALL PRIVILEGES covers both.
func checkGrants(conn *client.Conn, src config.SourceConfig) []error {
	r, err := conn.Execute("SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return []error{fmt.Errorf("source: SHOW GRANTS failed: %w", err)}
	}
	var all strings.Builder
	for i := 0; i < r.RowNumber(); i++ {
		g, _ := r.GetString(i, 0)
		if strings.Contains(strings.ToUpper(g), " ON *.* ") {
			all.WriteString(strings.ToUpper(g))
			all.WriteByte('\n')
		}
	}
	text := all.String()
	has := func(names ...string) bool {
		if strings.Contains(text, "ALL PRIVILEGES") {
			return true
		}
		for _, n := range names {
			if strings.Contains(text, n) {
				return true
			}
		}
		return false
	}
	var errs []error
	if !has("REPLICATION SLAVE", "REPLICATION REPLICA") {
		errs = append(errs, fmt.Errorf("source: user %q lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* TO the cachesync user", src.User))
	}
	if !has("REPLICATION CLIENT", "BINLOG MONITOR") {
		errs = append(errs, fmt.Errorf("source: user %q lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB): GRANT it ON *.* TO the cachesync user", src.User))
	}
	return errs
}

// SchemaReport is what CheckSchema found: Problems make the config unusable
// (a template column the table lacks, no SELECT privilege); Missing lists
// rules whose table does not exist (yet): `config check --online` fails on
// them, `run` only warns, since a table may be created later.
type SchemaReport struct {
	Problems []error
	Missing  []string
}

// CheckSchema checks every rule against the live schema: the table (or at
// least one table of a pattern) exists and is readable, and has every
// template and watch column.
func CheckSchema(ctx context.Context, src config.SourceConfig, rules []*config.Rule) (SchemaReport, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return SchemaReport{}, err
	}
	defer conn.Close()
	var rep SchemaReport
	for _, r := range rules {
		checkRule(conn, src, r, &rep)
	}
	return rep, nil
}

func checkRule(conn *client.Conn, src config.SourceConfig, r *config.Rule, rep *SchemaReport) {
	res, err := conn.Execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", r.DB)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): listing tables: %w", r.Table, r.Line, err))
		return
	}
	var tables []string
	for i := 0; i < res.RowNumber(); i++ {
		name, _ := res.GetString(i, 0)
		if r.Matches(r.DB, name) {
			tables = append(tables, name)
		}
	}
	if len(tables) == 0 {
		// information_schema hides tables the user may not read: tell apart
		// "no SELECT" from "no such table" by asking for the table itself.
		if r.TableGlob == "" || !strings.ContainsAny(r.TableGlob, "*?") {
			_, err := conn.Execute("SELECT 1 FROM " + QuoteIdent(r.DB) + "." + QuoteIdent(r.TableGlob) + " LIMIT 0")
			switch ErrorCode(err) {
			case mysql.ER_TABLEACCESS_DENIED_ERROR, mysql.ER_DBACCESS_DENIED_ERROR:
				rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): user %q may not read %s: GRANT SELECT ON %s.* TO the cachesync user (its schema is needed to render keys)", r.Table, r.Line, src.User, r.Table, r.DB))
				return
			}
		}
		rep.Missing = append(rep.Missing, fmt.Sprintf("rule %s (line %d): no such table in the source yet: fix the rule's table if it is a typo", r.Table, r.Line))
		return
	}
	for _, tbl := range tables {
		cols, err := conn.Execute("SELECT COLUMN_NAME, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", r.DB, tbl)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): reading columns of %s.%s: %w", r.Table, r.Line, r.DB, tbl, err))
			continue
		}
		have, pk := map[string]bool{}, map[string]bool{}
		for i := 0; i < cols.RowNumber(); i++ {
			c, _ := cols.GetString(i, 0)
			key, _ := cols.GetString(i, 1)
			have[strings.ToLower(c)] = true
			pk[strings.ToLower(c)] = key == "PRI"
		}
		checkOwnedPK(r, tbl, have, pk, rep)
		for _, tpl := range r.Templates {
			for _, c := range tpl.Columns() {
				if !have[strings.ToLower(c)] {
					rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): key template %q names column %q, which %s.%s does not have: fix the template or the column name", r.Table, r.Line, tpl.Raw, c, r.DB, tbl))
				}
			}
		}
		for _, tpl := range r.CascadeTemplates {
			for _, c := range tpl.Columns() {
				if !have[strings.ToLower(c)] {
					rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): cascade key template %q names column %q, which %s.%s does not have: cascade keys are rendered from this (the parent) table's deleted row, so use its columns (the child's own are not in the binlog)", r.Table, r.Line, tpl.Raw, c, r.DB, tbl))
				}
			}
		}
		for _, w := range r.Watch {
			if !have[strings.ToLower(w)] {
				rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): watch column %q does not exist in %s.%s", r.Table, r.Line, w, r.DB, tbl))
			}
		}
	}
}

// checkOwnedPK refuses a write_behind.keys template on a column outside the
// primary key: a flush that changes that column would move the row to
// another key while the cache keeps the old one (see canal/writebehind.go).
func checkOwnedPK(r *config.Rule, tbl string, have, pk map[string]bool, rep *SchemaReport) {
	anyPK := false
	for _, v := range pk {
		anyPK = anyPK || v
	}
	for _, ti := range r.WriteBehind.Owned {
		tpl := r.Templates[ti]
		if !anyPK {
			rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): write_behind.keys template %q: %s.%s has no primary key, and the cache can own only keys made of primary key columns: give the table a primary key, or move %q out of write_behind.keys (its keys are then invalidated like the rule's other keys)", r.Table, r.Line, tpl.Raw, r.DB, tbl, tpl.Raw))
			continue
		}
		for _, c := range tpl.Columns() {
			if have[strings.ToLower(c)] && !pk[strings.ToLower(c)] {
				rep.Problems = append(rep.Problems, fmt.Errorf("rule %s (line %d): write_behind.keys template %q names column %q, which is not in the primary key of %s.%s: the cache can own only keys made of primary key columns (a row never moves away from those); move %q out of write_behind.keys (its keys are then invalidated like the rule's other keys)", r.Table, r.Line, tpl.Raw, c, r.DB, tbl, tpl.Raw))
			}
		}
	}
}
