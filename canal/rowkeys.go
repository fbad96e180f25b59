package canal

import (
	"errors"
	"fmt"

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
