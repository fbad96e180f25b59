package flusher

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/source"
)

// maxPlaceholders keeps a statement well inside MySQL's 65,535 limit.
const maxPlaceholders = 30000

// exec writes the ops: every delete first (a row deleted and written again
// in one batch is deleted, then inserted), then the upserts, each as
// multi-row statements of rows with the same columns, in the order rows
// first appeared — or, on a table with a unique key besides the primary
// key, row by row by primary key (upsertByKey). Values always travel as placeholders. A statement that
// fails on a row's values is retried row by row; the failing rows' entries
// become poison with the server's message, the others are applied.
func (d *flushDB) exec(c *client.Conn, ops []*rowOp) (upserts, deletes int, err error) {
	for _, g := range groupOps(ops, func(op *rowOp) bool { return op.del }, func(*rowOp) string { return "" }) {
		n, err := d.runGroup(c, g, deleteSQL)
		if err != nil {
			return 0, 0, err
		}
		deletes += n
	}
	uniques := map[*tableSchema][]string{}
	for _, g := range groupOps(ops, func(op *rowOp) bool { return op.upsert && !op.failed }, colSignature) {
		t := g[0].tbl
		u, seen := uniques[t]
		if !seen {
			if u, err = secondaryUniques(c, t); err != nil {
				return 0, 0, err
			}
			uniques[t] = u
		}
		var n int
		if len(u) == 0 {
			n, err = d.runGroup(c, g, upsertSQL) // a duplicate can only be the row's own key
		} else {
			n, err = d.upsertByKey(c, g)
		}
		if err != nil {
			return 0, 0, err
		}
		upserts += n
	}
	return upserts, deletes, nil
}

// groupOps groups the ops that keep passes by table and sig, in order of
// first appearance.
func groupOps(ops []*rowOp, keep func(*rowOp) bool, sig func(*rowOp) string) [][]*rowOp {
	index := map[string]int{}
	var groups [][]*rowOp
	for _, op := range ops {
		if !keep(op) {
			continue
		}
		k := op.tbl.String() + "\x00" + sig(op)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], op)
	}
	return groups
}

func colSignature(op *rowOp) string {
	cols := slices.Clone(op.cols)
	slices.Sort(cols)
	op.cols = cols // one order for every row of the group
	return strings.Join(cols, "\x00")
}

type buildSQL func(rows []*rowOp) (string, []any)

// runGroup runs a group in chunks; it returns how many rows were written.
func (d *flushDB) runGroup(c *client.Conn, g []*rowOp, build buildSQL) (int, error) {
	per := max(1, maxPlaceholders/(len(g[0].pk)+len(g[0].cols)))
	done := 0
	for start := 0; start < len(g); start += per {
		chunk := g[start:min(start+per, len(g))]
		n, err := d.runChunk(c, chunk, build)
		if err != nil {
			return 0, err
		}
		done += n
	}
	return done, nil
}

func (d *flushDB) runChunk(c *client.Conn, chunk []*rowOp, build buildSQL) (int, error) {
	q, args := build(chunk)
	_, err := c.Execute(q, args...)
	switch {
	case err == nil:
		return len(chunk), nil
	case !isRowError(err):
		return 0, fmt.Errorf("writing %d rows of %s: %w", len(chunk), chunk[0].tbl, err)
	case len(chunk) == 1:
		markPoison(chunk[0], err)
		return 0, nil
	}
	// Some row's values do not fit: the failed statement was rolled back on
	// its own (the transaction goes on); find the row one by one.
	n := 0
	for _, op := range chunk {
		m, err := d.runChunk(c, []*rowOp{op}, build)
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

func markPoison(op *rowOp, err error) {
	op.failed = true
	for _, it := range op.items {
		if it.poison == "" {
			it.poison = fmt.Sprintf("MySQL refused the row of %s with key %v: %v", op.tbl, op.pk, err)
		}
	}
}

// deleteSQL is DELETE FROM t WHERE (k1, k2) IN ((?, ?), ...).
func deleteSQL(rows []*rowOp) (string, []any) {
	t := rows[0].tbl
	var b strings.Builder
	b.WriteString("DELETE FROM " + source.QuoteIdent(t.db) + "." + source.QuoteIdent(t.name) + " WHERE (")
	writeIdents(&b, t.pk)
	b.WriteString(") IN (")
	args := make([]any, 0, len(rows)*len(t.pk))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple(len(t.pk)))
		args = append(args, r.pk...)
	}
	b.WriteString(")")
	return b.String(), args
}

// upsertSQL is INSERT INTO t (k, c...) VALUES (?, ?...), ... ON DUPLICATE KEY
// UPDATE c = VALUES(c): only the columns the entries wrote change.
func upsertSQL(rows []*rowOp) (string, []any) {
	t, cols := rows[0].tbl, rows[0].cols
	all := append(slices.Clone(t.pk), cols...)
	var b strings.Builder
	b.WriteString("INSERT INTO " + source.QuoteIdent(t.db) + "." + source.QuoteIdent(t.name) + " (")
	writeIdents(&b, all)
	b.WriteString(") VALUES ")
	args := make([]any, 0, len(rows)*len(all))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple(len(all)))
		args = append(args, r.pk...)
		for _, col := range cols {
			args = append(args, r.vals[col])
		}
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	update := cols
	if len(update) == 0 {
		update = t.pk[:1] // nothing but the key: make the insert a no-op on a duplicate
	}
	for i, col := range update {
		if i > 0 {
			b.WriteString(", ")
		}
		q := source.QuoteIdent(col)
		b.WriteString(q + " = VALUES(" + q + ")")
	}
	return b.String(), args
}

func writeIdents(b *strings.Builder, names []string) {
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(source.QuoteIdent(n))
	}
}

func tuple(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}
