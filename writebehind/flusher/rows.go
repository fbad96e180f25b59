package flusher

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
)

// rowOp is the coalesced effect of a batch's entries on one row: last write
// wins per column; a delete drops the columns written before it.
type rowOp struct {
	tbl    *tableSchema
	pk     []any // values in tbl.pk order
	del    bool  // delete the row (before any upsert)
	upsert bool
	failed bool           // MySQL refused the row: its entries are poison
	cols   []string       // non-key columns written, in first-written order
	vals   map[string]any // column → SQL argument
	items  []*item
}

// coalesce validates the entries against the live schema (a failure makes
// the entry poison, with its reason) and folds them into one op per row, in
// the order rows first appear.
func (d *flushDB) coalesce(c *client.Conn, fresh []*item) ([]*rowOp, error) {
	byRow := map[string]*rowOp{}
	var ops []*rowOp
	reloaded := map[string]bool{}
	for _, it := range fresh {
		if it.poison != "" || it.deleted {
			continue
		}
		tbl, pk, err := d.resolve(c, it, reloaded)
		if err != nil {
			return nil, err
		}
		if it.poison != "" {
			continue
		}
		key := rowKey(tbl, pk)
		op := byRow[key]
		if op == nil {
			op = &rowOp{tbl: tbl, pk: pk, vals: map[string]any{}}
			byRow[key] = op
			ops = append(ops, op)
		}
		op.add(it)
	}
	return ops, nil
}

// resolve finds the entry's table and checks its key and columns; a problem
// with the entry sets it.poison, a problem reaching MySQL is returned.
func (d *flushDB) resolve(c *client.Conn, it *item, reloaded map[string]bool) (*tableSchema, []any, error) {
	e := it.entry
	name := e.DB + "." + e.Table
	if !d.rule.Matches(e.DB, e.Table) {
		it.poison = fmt.Sprintf("table %s is not the table of this stream's rule (%s)", name, d.rule.Table)
		return nil, nil, nil
	}
	tbl, err := d.schema(c, e.DB, e.Table, false)
	if err != nil {
		return nil, nil, err
	}
	if tbl != nil && unknownColumn(tbl, e.Cols, e.PK) != "" && !reloaded[name] {
		reloaded[name] = true // a column added since the schema was read
		if tbl, err = d.schema(c, e.DB, e.Table, true); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case tbl == nil:
		it.poison = fmt.Sprintf("table %s does not exist", name)
	case unknownColumn(tbl, e.Cols, e.PK) != "":
		it.poison = fmt.Sprintf("unknown column %q in %s", unknownColumn(tbl, e.Cols, e.PK), name)
	default:
		pk, why := pkValues(tbl, e.PK)
		if why != "" {
			it.poison = why
			return nil, nil, nil
		}
		return tbl, pk, nil
	}
	return nil, nil, nil
}

func unknownColumn(t *tableSchema, maps ...map[string]any) string {
	for _, m := range maps {
		for col := range m {
			if _, ok := t.cols[strings.ToLower(col)]; !ok {
				return col
			}
		}
	}
	return ""
}

// pkValues orders the entry's key values by the table's primary key; the
// entry must name exactly the primary key's columns.
func pkValues(t *tableSchema, pk map[string]any) ([]any, string) {
	if len(t.pk) == 0 {
		return nil, fmt.Sprintf("table %s has no primary key: write-behind needs one", t)
	}
	vals := make([]any, len(t.pk))
	found := 0
	for col, v := range pk {
		i := indexFold(t.pk, col)
		if i < 0 {
			break
		}
		vals[i] = sqlArg(v)
		found++
	}
	if found != len(t.pk) || len(pk) != len(t.pk) {
		names := make([]string, 0, len(pk))
		for col := range pk {
			names = append(names, col)
		}
		sort.Strings(names)
		return nil, fmt.Sprintf("pk names (%s) but the primary key of %s is (%s)", strings.Join(names, ", "), t, strings.Join(t.pk, ", "))
	}
	for i, v := range vals {
		if v == nil {
			return nil, fmt.Sprintf("pk column %s of %s is null", t.pk[i], t)
		}
	}
	return vals, ""
}

func indexFold(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

func rowKey(t *tableSchema, pk []any) string {
	var b strings.Builder
	b.WriteString(t.String())
	for _, v := range pk {
		fmt.Fprintf(&b, "\x00%v", v)
	}
	return b.String()
}

// add folds one entry into the row's op.
func (op *rowOp) add(it *item) {
	op.items = append(op.items, it)
	if it.entry.Cols == nil { // a delete
		op.del, op.upsert = true, false
		op.cols = op.cols[:0]
		clear(op.vals)
		return
	}
	op.upsert = true
	for col, v := range it.entry.Cols {
		name := op.tbl.cols[strings.ToLower(col)]
		if indexFold(op.tbl.pk, name) >= 0 {
			continue // the key comes from pk
		}
		if _, seen := op.vals[name]; !seen {
			op.cols = append(op.cols, name)
		}
		op.vals[name] = sqlArg(v)
	}
}

// sqlArg turns a decoded JSON value into a statement argument: exact numbers
// as text (the server converts them to the column's type), booleans as 1/0.
func sqlArg(v any) any {
	switch x := v.(type) {
	case json.Number:
		return string(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v
}
