package source

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/writebehind"
)

// MissingWriteBehindPrivileges names what the write-behind flusher needs of
// the source user (INSERT, UPDATE, DELETE on each write-behind table;
// INSERT, UPDATE, CREATE on cachesync_wb_offsets: see privileges.go) that
// the grants do not give, one line per table with the GRANT that fixes it.
// roles is true when the user has roles, whose grants may give the rest.
func MissingWriteBehindPrivileges(grants []string, rules []*config.Rule, account string) (missing []string, roles bool) {
	n := newNeeds(rules)
	var parsed []Grant
	for _, line := range grants {
		g, ok, err := ParseGrant(line)
		if err != nil || !ok {
			continue
		}
		roles = roles || len(g.Roles) > 0
		parsed = append(parsed, g)
		if account == "" {
			account = g.Account
		}
	}
	lacks := map[tableRef][]string{}
	var order []tableRef
	for _, priv := range []string{"INSERT", "UPDATE", "DELETE", "CREATE"} {
		for _, t := range n.narrow[priv] {
			if granted(parsed, priv, t) {
				continue
			}
			if _, ok := lacks[t]; !ok {
				order = append(order, t)
			}
			lacks[t] = append(lacks[t], priv)
		}
	}
	for _, t := range order {
		why := "the flusher writes the rows the cache queued"
		if t.table == writebehind.OffsetsTable {
			why = "the flusher creates it and records each batch in it"
		}
		missing = append(missing, fmt.Sprintf("write-behind: the source user lacks %s ON %s.%s (%s): GRANT %s ON %s TO %s",
			strings.Join(lacks[t], ", "), t.db, t.table, why, strings.Join(lacks[t], ", "), t.text(), account))
	}
	return missing, roles
}

// granted reports whether some grant gives priv on t.
func granted(grants []Grant, priv string, t tableRef) bool {
	for _, g := range grants {
		if !covers(g.Object, t) {
			continue
		}
		if slices.ContainsFunc(g.Privs, func(p Priv) bool {
			return p.Columns == "" && (p.Name == priv || p.Name == "ALL PRIVILEGES" || p.Name == "ALL")
		}) {
			return true
		}
	}
	return false
}

// CheckWriteBehindPrivileges reads the source user's grants and returns
// MissingWriteBehindPrivileges; nothing when no rule has write_behind.
func CheckWriteBehindPrivileges(ctx context.Context, src config.SourceConfig, rules []*config.Rule) (missing []string, roles bool, err error) {
	if !slices.ContainsFunc(rules, func(r *config.Rule) bool { return r.WriteBehind.Enabled() }) {
		return nil, false, nil
	}
	conn, err := Connect(ctx, src)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	r, err := conn.Execute("SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, false, fmt.Errorf("source: SHOW GRANTS failed: %w", err)
	}
	missing, roles = MissingWriteBehindPrivileges(resultLines(r), rules, "")
	return missing, roles, nil
}
