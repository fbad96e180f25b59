package canal

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/schema"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/encoding"

	"github.com/cachesync/cachesync/config"
)

// tableKeys is every rule that applies to one table, compiled against the
// table's current schema. It is rebuilt whenever canal hands us a different
// *schema.Table (canal re-reads the schema after DDL).
type tableKeys struct {
	table    *schema.Table
	name     string // db.table
	rules    []compiledRule
	watchAll bool // some rule has no watch list: every UPDATE counts

	rows, events    map[string]prometheus.Counter // by op
	emitted         prometheus.Counter
	watchSkipped    prometheus.Counter
	schemaMismatch  prometheus.Counter
	missingColumn   []*missing  // templates that cannot render any more
	unknownCharsets []string    // template columns whose charset cannot be converted to UTF-8
	notOwnable      []string    // owned templates on columns outside the primary key: deleted plainly
	recorded        bool        // its schema is in the SchemaHistory
	used            []int       // columns templates and watch lists read (rowimage.go)
	kinds           []valueKind // each column's valueKind (rowfit.go)
}

type missing struct {
	template string
	column   string
	counter  prometheus.Counter
}

type compiledRule struct {
	templates []compiledTemplate
	watch     []int  // column indexes; nil = every update counts
	wbStream  string // write_behind.stream; "" for a plain rule
}

type compiledTemplate struct {
	raw     string
	parts   []part
	broken  *missing // non-nil: a column is gone; counted, never rendered
	owned   bool     // in write_behind.keys (primary key columns only): guarded for the flusher's own writes
	nulls   prometheus.Counter
	empties prometheus.Counter
}

type part struct {
	lit  string
	col  int                 // -1 for a literal part
	pad  int                 // BINARY(n): the binlog drops trailing 0x00 bytes that SELECT shows
	dec  encoding.Encoding   // text in a non-UTF-8 charset: converted to UTF-8
	fsp  int                 // TIME(n): restore an all-zero fraction
	year bool                // YEAR: the zero year is "0000"
	def  *schema.TableColumn // ENUM/SET with members parsed correctly; nil: the table's
}

// binaryPad returns n for a BINARY(n) column, else 0.
func binaryPad(c *schema.TableColumn) int {
	var n int
	if _, err := fmt.Sscanf(strings.ToLower(c.RawType), "binary(%d)", &n); err != nil {
		return 0
	}
	return n
}

// columnIndex finds a column by name. MySQL column names are case-insensitive.
func columnIndex(t *schema.Table, name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// compileTable binds every matching rule's templates to column positions.
// A template naming a column the table does not have is kept as broken so
// the rule's other keys still go out; the caller logs it loudly once.
func compileTable(t *schema.Table, rules []*config.Rule, m tableMetrics) *tableKeys {
	name := t.Schema + "." + t.Name
	tk := &tableKeys{table: t, name: name}
	m.bind(tk)
	for _, r := range rules {
		cr := compiledRule{wbStream: r.WriteBehind.Stream}
		for ti, tpl := range r.Templates {
			ct := compiledTemplate{raw: tpl.Raw, nulls: m.nulls(name, tpl.Raw), empties: m.empties(name, tpl.Raw),
				owned: slices.Contains(r.WriteBehind.Owned, ti)}
			if ct.owned && !primaryKeyOnly(t, tpl.Columns()) {
				// Checked at start; a DDL since may have changed the key:
				// a plain delete is always safe.
				ct.owned = false
				tk.notOwnable = append(tk.notOwnable, tpl.Raw)
			}
			for _, p := range tpl.Parts {
				if p.Column == "" {
					ct.parts = append(ct.parts, part{lit: p.Literal, col: -1})
					continue
				}
				i := columnIndex(t, p.Column)
				if i < 0 && ct.broken == nil {
					ct.broken = &missing{template: tpl.Raw, column: p.Column, counter: m.missing(name, p.Column)}
					tk.missingColumn = append(tk.missingColumn, ct.broken)
				}
				p := part{col: i}
				if i >= 0 {
					p.pad = binaryPad(&t.Columns[i])
					p.fsp, p.year, p.def = timeFsp(&t.Columns[i]), isYear(&t.Columns[i]), fixMembers(&t.Columns[i])
					var cs string
					var unknown bool
					p.dec, cs, unknown = columnDecoder(&t.Columns[i])
					if unknown {
						tk.unknownCharsets = append(tk.unknownCharsets, t.Columns[i].Name+" ("+cs+")")
					}
				}
				ct.parts = append(ct.parts, p)
			}
			cr.templates = append(cr.templates, ct)
		}
		if len(r.Watch) == 0 {
			tk.watchAll = true
		} else {
			for _, w := range r.Watch {
				i := columnIndex(t, w)
				if i < 0 {
					// A watched column that is gone cannot prove "unchanged":
					// fall back to treating every update as relevant.
					cr.watch = nil
					break
				}
				cr.watch = append(cr.watch, i)
			}
		}
		tk.rules = append(tk.rules, cr)
	}
	return tk
}

// keySink receives rendered keys; it de-duplicates and collects them.
type keySink interface {
	add(key []byte)
	// echo reports whether the row change being rendered is an insert or
	// update the write-behind flusher of stream wrote (see handler.flushRow):
	// then the keys the cache owns get the guarded delete (addGuarded).
	echo(stream string) bool
	addGuarded(key []byte)
}

// renderRow renders every template of every rule for one row image.
// scratch is reused to avoid an allocation per key.
func (tk *tableKeys) renderRow(row []any, rules []int, scratch []byte, out keySink) []byte {
	for _, ri := range rules {
		for ti := range tk.rules[ri].templates {
			ct := &tk.rules[ri].templates[ti]
			if ct.broken != nil {
				ct.broken.counter.Inc()
				continue
			}
			guarded := ct.owned && out.echo(tk.rules[ri].wbStream)
			key, ok := ct.render(tk.table, row, scratch[:0])
			scratch = key
			switch {
			case !ok:
				if !ct.hasAbsent(row) { // absent: handled by checkRowImage, not a NULL
					ct.nulls.Inc()
				}
			case len(key) == 0:
				ct.empties.Inc()
			case guarded:
				out.addGuarded(key)
			default:
				out.add(key)
			}
		}
	}
	return scratch
}

func (ct *compiledTemplate) render(t *schema.Table, row []any, dst []byte) ([]byte, bool) {
	for _, p := range ct.parts {
		if p.col < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		if p.col >= len(row) {
			return dst, false // row image shorter than the schema: treat as NULL
		}
		if _, gone := row[p.col].(absentColumn); gone {
			return dst, false // not in this row image (binlog_row_image MINIMAL/NOBLOB)
		}
		var ok bool
		n := len(dst)
		def := p.def
		if def == nil {
			def = &t.Columns[p.col]
		}
		dst, ok = appendValue(dst, def, row[p.col])
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
	}
	return dst, true
}

// updateRules returns the indexes of rules for which an UPDATE from before to
// after matters (watch list), into buf.
func (tk *tableKeys) updateRules(before, after []any, buf []int) []int {
	buf = buf[:0]
	for i := range tk.rules {
		w := tk.rules[i].watch
		if w == nil || anyChanged(before, after, w) {
			buf = append(buf, i)
		}
	}
	return buf
}

func (tk *tableKeys) allRules(buf []int) []int {
	buf = buf[:0]
	for i := range tk.rules {
		buf = append(buf, i)
	}
	return buf
}

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
