package keys

import (
	"bytes"

	"github.com/go-mysql-org/go-mysql/schema"
)

// Output receives the keys of a render: the tailer de-duplicates and
// batches them, a backfill collects them (AddFunc).
type Output interface {
	// Add takes a key to delete. The bytes are only valid during the call.
	Add(key []byte)
	// Echo reports whether the row change being rendered is an insert or
	// update the write-behind flusher of stream wrote: then the keys the
	// cache owns (write_behind.keys) go to AddGuarded.
	Echo(stream string) bool
	// AddGuarded takes an owned key of such a change: deleted unless the
	// cache holds what the flusher wrote.
	AddGuarded(key []byte)
}

// Setter is an Output that writes through: a set key of an action: set
// rule (rule ri, as Render takes it) goes to AddSet instead of Add. An
// Output without it deletes set keys (a backfill), which is always safe.
type Setter interface {
	AddSet(key []byte, ri int)
}

// AddFunc is the Output of a caller that deletes every key plainly (no
// write-behind echoes: a backfill).
type AddFunc func(key []byte)

// Add calls f.
func (f AddFunc) Add(key []byte) { f(key) }

// Echo is false: no change is the flusher's own.
func (f AddFunc) Echo(string) bool { return false }

// AddGuarded calls f; never reached, as Echo is false.
func (f AddFunc) AddGuarded(key []byte) { f(key) }

// Counts is what one render skipped (also counted in the metrics).
type Counts struct {
	Null  int // a template column was NULL
	Empty int // the key rendered empty
}

// Absent stands in a row image for a column the rows event does not carry
// (binlog_row_image MINIMAL or NOBLOB): a key that reads it is not
// rendered, and is not counted as a NULL either.
type Absent struct{}

// RenderAll renders every template of every rule for one row image into
// out, in rule and template order, not de-duplicated. Rows hold the values
// in the Go types go-mysql's binlog decoder produces for each column (see
// the backfill package for the conversion from SQL results), so a backfill
// deletes the keys the tailer would, byte for byte.
func (t *Table) RenderAll(row []any, out Output) Counts { return t.Render(row, t.all, out) }

// Render renders every template of the rules (indexes, as UpdateRules and
// AllRules give them) for one row image into out. A NULL or an empty key is
// skipped and counted, a broken template (Missing) is counted, never
// rendered.
func (t *Table) Render(row []any, rules []int, out Output) Counts {
	var n Counts
	setter, _ := out.(Setter)
	for _, ri := range rules {
		for ti := range t.rules[ri].templates {
			ct := &t.rules[ri].templates[ti]
			if ct.broken != nil {
				ct.broken.counter.Inc()
				continue
			}
			guarded := ct.owned && out.Echo(t.rules[ri].wbStream)
			key, ok := ct.render(t.table, row, t.scratch[:0])
			t.scratch = key
			switch {
			case !ok:
				if !ct.hasAbsent(row) { // absent: the tailer's row image check handles it, not a NULL
					n.Null++
					ct.nulls.Inc()
				}
			case len(key) == 0:
				n.Empty++
				ct.empties.Inc()
			case ct.set && setter != nil:
				setter.AddSet(key, ri)
			case guarded:
				out.AddGuarded(key)
			default:
				out.Add(key)
			}
		}
	}
	return n
}

func (ct *template) render(t *schema.Table, row []any, dst []byte) ([]byte, bool) {
	for _, p := range ct.parts {
		if p.col < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		var ok bool
		if dst, ok = p.appendColumn(t, row, dst); !ok {
			return dst, false
		}
	}
	return dst, true
}

// appendColumn appends the text of the part's column in row, as SELECT
// shows it; ok is false for NULL, an absent column or a short row image.
func (p *part) appendColumn(t *schema.Table, row []any, dst []byte) ([]byte, bool) {
	if p.col >= len(row) {
		return dst, false // row image shorter than the schema: treat as NULL
	}
	if _, gone := row[p.col].(Absent); gone {
		return dst, false // not in this row image (binlog_row_image MINIMAL/NOBLOB)
	}
	var ok bool
	n := len(dst)
	def := p.def
	if def == nil {
		def = &t.Columns[p.col]
	}
	dst, ok = AppendValue(dst, def, row[p.col])
	if !ok {
		return dst, false
	}
	dst = p.fixText(dst, n)
	if p.dec != nil {
		if utf, err := p.dec.NewDecoder().Bytes(dst[n:]); err == nil {
			dst = append(dst[:n], utf...)
		}
	}
	for len(dst)-n < p.pad {
		dst = append(dst, 0)
	}
	return dst, true
}

// hasAbsent reports whether a template part of ct reads an absent column of
// row: that key is not rendered, and is not a NULL either.
func (ct *template) hasAbsent(row []any) bool {
	for _, p := range ct.parts {
		if p.col >= 0 && p.col < len(row) && row[p.col] == (Absent{}) {
			return true
		}
	}
	return false
}

// UpdateRules returns the indexes of rules for which an UPDATE from before
// to after matters (watch list), into buf.
func (t *Table) UpdateRules(before, after []any, buf []int) []int {
	buf = buf[:0]
	for i := range t.rules {
		w := t.rules[i].watch
		if w == nil || anyChanged(before, after, w) {
			buf = append(buf, i)
		}
	}
	return buf
}

// AllRules returns the indexes of every rule, into buf.
func (t *Table) AllRules(buf []int) []int { return append(buf[:0], t.all...) }

func anyChanged(before, after []any, cols []int) bool {
	for _, c := range cols {
		if c >= len(before) || c >= len(after) || !sameValue(before[c], after[c]) {
			return true
		}
	}
	return false
}

func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	defer func() { _ = recover() }() // uncomparable dynamic types count as changed
	return a == b
}

// fixText applies the per-type corrections to the value appended at dst[n:].
func (p *part) fixText(dst []byte, n int) []byte {
	switch {
	case p.fsp > 0 && bytes.IndexByte(dst[n:], '.') < 0:
		dst = append(dst, '.')
		for i := 0; i < p.fsp; i++ {
			dst = append(dst, '0')
		}
	case p.year && len(dst)-n == 1 && dst[n] == '0':
		dst = append(dst[:n], "0000"...)
	}
	return dst
}
