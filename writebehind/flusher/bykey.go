package flusher

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/source"
)

// INSERT … ON DUPLICATE KEY UPDATE fires on ANY unique index: on a table
// with a unique key besides the primary key, a new row whose unique value
// another row holds would update that other row, silently. Such tables are
// written by primary key only: the row is locked and looked up by its key,
// then UPDATEd or INSERTed; a duplicate is then the entry's own error.

// secondaryUniques lists the table's unique indexes other than the primary
// key, read in every transaction (a unique key may be added at any time).
func secondaryUniques(c *client.Conn, t *tableSchema) ([]string, error) {
	r, err := c.Execute("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'", t.db, t.name)
	if err != nil {
		return nil, fmt.Errorf("reading the unique indexes of %s: %w", t, err)
	}
	var out []string
	for i := range r.RowNumber() {
		s, _ := r.GetString(i, 0)
		out = append(out, s)
	}
	return out, nil
}

// upsertByKey writes the group's rows one by one by primary key. A row
// refused as a duplicate may only collide with a row written later in the
// same batch (7 takes 5's old value, 5 takes a new one): duplicates are
// retried in further passes while a pass makes progress. Rows still refused
// (another row holds the value, or rows of the batch swap values, which no
// order can apply) become poison with the server's message.
func (d *flushDB) upsertByKey(c *client.Conn, g []*rowOp) (int, error) {
	done := 0
	pending := g
	dupErr := map[*rowOp]error{}
	for len(pending) > 0 {
		var again []*rowOp
		for _, op := range pending {
			err := writeByKey(c, op)
			switch {
			case err == nil:
				done++
			case source.ErrorCode(err) == mysql.ER_DUP_ENTRY:
				again = append(again, op)
				dupErr[op] = err
			case isRowError(err):
				markPoison(op, err)
			default:
				return 0, fmt.Errorf("writing a row of %s with key %v: %w", op.tbl, op.pk, err)
			}
		}
		if len(again) == len(pending) {
			for _, op := range again {
				markPoison(op, fmt.Errorf("%w (another row holds this unique value, or rows of one batch swap unique values, which no order of writes can apply: write through a free intermediate value)", dupErr[op]))
			}
			break
		}
		pending = again
	}
	return done, nil
}

// writeByKey locks the row by its primary key, then updates it or inserts it.
func writeByKey(c *client.Conn, op *rowOp) error {
	t := op.tbl
	table := source.QuoteIdent(t.db) + "." + source.QuoteIdent(t.name)
	where := keyWhere(t.pk)
	r, err := c.Execute("SELECT 1 FROM "+table+" WHERE "+where+" FOR UPDATE", op.pk...)
	if err != nil {
		return err
	}
	if r.RowNumber() > 0 {
		if len(op.cols) == 0 {
			return nil
		}
		sets := make([]string, len(op.cols))
		args := make([]any, 0, len(op.cols)+len(op.pk))
		for i, col := range op.cols {
			sets[i] = source.QuoteIdent(col) + " = ?"
			args = append(args, op.vals[col])
		}
		_, err := c.Execute("UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE "+where, append(args, op.pk...)...)
		return err
	}
	all := append(slices.Clone(t.pk), op.cols...)
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (")
	writeIdents(&b, all)
	b.WriteString(") VALUES " + tuple(len(all)))
	args := slices.Clone(op.pk)
	for _, col := range op.cols {
		args = append(args, op.vals[col])
	}
	_, err = c.Execute(b.String(), args...)
	return err
}

// keyWhere is "k1 = ? AND k2 = ?".
func keyWhere(pk []string) string {
	parts := make([]string, len(pk))
	for i, k := range pk {
		parts[i] = source.QuoteIdent(k) + " = ?"
	}
	return strings.Join(parts, " AND ")
}
