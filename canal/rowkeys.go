package canal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
)

// RowKeys renders the cache keys of one table's rules from full row images
// with the tailer's own code (compileTable, compiledTemplate.render,
// appendValue), so a backfill deletes byte-identical keys. Rows must hold
// the values in the Go types go-mysql's binlog decoder produces for each
// column (see the backfill package for the conversion from SQL results).
type RowKeys struct {
	tk      *tableKeys
	uses    []bool
	scratch []byte
}

// RenderCounts is what one Render skipped.
type RenderCounts struct {
	Null  int // a template column was NULL
	Empty int // the key rendered empty
}

// NewRowKeys compiles rules against t. Unlike the tailer, which logs a
// template naming a missing column and carries on, it refuses: a backfill
// must not report success while silently skipping a key.
func NewRowKeys(t *schema.Table, rules []*config.Rule, m *metrics.Metrics) (*RowKeys, error) {
	tk := compileTable(t, rules, tableMetrics{m})
	var errs []error
	for _, mc := range tk.missingColumn {
		errs = append(errs, fmt.Errorf("%s.%s: key template %q names column %q, which the table does not have: fix the rule",
			t.Schema, t.Name, mc.template, mc.column))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rk := &RowKeys{tk: tk, uses: make([]bool, len(t.Columns))}
	for _, r := range tk.rules {
		for _, ct := range r.templates {
			for _, p := range ct.parts {
				if p.col >= 0 {
					rk.uses[p.col] = true
				}
			}
		}
	}
	return rk, nil
}

// Uses reports whether column i feeds some key template; the others need
// not be read at all.
func (rk *RowKeys) Uses(i int) bool { return i >= 0 && i < len(rk.uses) && rk.uses[i] }

// Render calls add with every key of every rule for one row image, in rule
// and template order, not de-duplicated. The key bytes are only valid
// during the call.
func (rk *RowKeys) Render(row []any, add func(key []byte)) RenderCounts {
	var n RenderCounts
	for ri := range rk.tk.rules {
		for ti := range rk.tk.rules[ri].templates {
			ct := &rk.tk.rules[ri].templates[ti]
			key, ok := ct.render(rk.tk.table, row, rk.scratch[:0])
			rk.scratch = key
			switch {
			case !ok:
				n.Null++
				ct.nulls.Inc()
			case len(key) == 0:
				n.Empty++
				ct.empties.Inc()
			default:
				add(key)
			}
		}
	}
	return n
}

// Connect opens a plain SQL connection to the source, with errors that say
// what to fix and never contain the password.
func Connect(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
	return connect(ctx, src)
}

// ErrNoSuchTable means the table is not on the source (or not visible to
// the configured user).
var ErrNoSuchTable = errors.New("no such table")

// LoadTable reads a table's schema exactly as go-mysql canal does for the
// tailer (schema.NewTable), so column types, ENUM members and BINARY sizes
// agree with the binlog path.
func LoadTable(conn *client.Conn, db, table string) (*schema.Table, error) {
	r, err := conn.Execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table)
	if err != nil {
		return nil, fmt.Errorf("checking that %s.%s exists: %w", db, table, err)
	}
	if r.RowNumber() == 0 {
		return nil, fmt.Errorf("%s.%s: %w on the source (check the name; names are case-sensitive, and the user needs SELECT on it)", db, table, ErrNoSuchTable)
	}
	t, err := schema.NewTable(conn, db, table)
	if err != nil {
		return nil, fmt.Errorf("reading the schema of %s.%s: %w", db, table, err)
	}
	return t, nil
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
