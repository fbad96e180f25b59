package keys

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/schema"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/encoding"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
)

// Table is every rule that applies to one table, compiled against one
// version of the table's schema: the tailer compiles it again whenever
// go-mysql canal hands it a different *schema.Table (after DDL). A Table
// reuses one buffer across renders: it is not safe for concurrent use.
type Table struct {
	table           *schema.Table
	name            string // db.table
	rules           []rule
	all             []int     // every rule's index, for RenderAll
	missing         []Missing // templates that cannot render any more
	unknownCharsets []string  // template columns whose charset cannot be converted to UTF-8
	notOwnable      []string  // owned templates on columns outside the primary key: deleted plainly
	uses            []bool    // columns some template reads
	used            []int     // columns templates and watch lists read
	scratch         []byte    // the key being rendered
}

// Missing is a template that names a column the table does not have: it is
// counted (cachesync_template_errors_total) and never rendered.
type Missing struct {
	Template string
	Column   string
	counter  prometheus.Counter
}

type rule struct {
	templates []template
	watch     []int  // column indexes; nil = every update counts
	wbStream  string // write_behind.stream; "" for a plain rule
	value     *Value // action: set: what its set templates store; nil otherwise
}

type template struct {
	raw     string
	parts   []part
	broken  *Missing // non-nil: a column is gone; counted, never rendered
	owned   bool     // in write_behind.keys (primary key columns only): guarded for the flusher's own writes
	set     bool     // in an action: set rule's set keys: written through (Setter), not deleted
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

// Value is what rule ri (an index as Render takes it) stores under its set
// keys; nil for a rule that does not set.
func (t *Table) Value(ri int) *Value { return t.rules[ri].value }

// Schema is the table version t was compiled against.
func (t *Table) Schema() *schema.Table { return t.table }

// Name is the table as db.table.
func (t *Table) Name() string { return t.name }

// Missing lists the templates that name a column the table does not have.
func (t *Table) Missing() []Missing { return t.missing }

// UnknownCharsets names the template columns (with their charset) whose
// text cannot be converted to UTF-8: their bytes are used as stored.
func (t *Table) UnknownCharsets() []string { return t.unknownCharsets }

// NotOwnable lists the write_behind.keys templates that read a column
// outside the primary key: their keys get the plain delete.
func (t *Table) NotOwnable() []string { return t.notOwnable }

// Uses reports whether column i feeds some key template; the others need
// not be read at all.
func (t *Table) Uses(i int) bool { return i >= 0 && i < len(t.uses) && t.uses[i] }

// UsedColumns are the columns a template or a watch list reads.
func (t *Table) UsedColumns() []int { return t.used }

// binaryPad returns n for a BINARY(n) column, else 0.
func binaryPad(c *schema.TableColumn) int {
	var n int
	if _, err := fmt.Sscanf(strings.ToLower(c.RawType), "binary(%d)", &n); err != nil {
		return 0
	}
	return n
}

// ColumnIndex finds a column by name (-1 if none). MySQL column names are
// case-insensitive.
func ColumnIndex(t *schema.Table, name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// PrimaryKeyOnly reports whether every column of an owned template is in
// t's primary key (a table without one has no ownable template): only such
// keys can be owned by the cache, since a row never moves away from them.
func PrimaryKeyOnly(t *schema.Table, cols []string) bool {
	for _, c := range cols {
		i := ColumnIndex(t, c)
		if i < 0 || !slices.Contains(t.PKColumns, i) {
			return false
		}
	}
	return len(t.PKColumns) > 0
}

// CompileStrict is Compile that refuses a template naming a column the
// table does not have, where the tailer logs it and carries on: a backfill
// must not report success while silently skipping a key.
func CompileStrict(t *schema.Table, rules []*config.Rule, m *metrics.Metrics) (*Table, error) {
	kt := Compile(t, rules, m)
	var errs []error
	for _, mc := range kt.missing {
		errs = append(errs, fmt.Errorf("%s.%s: key template %q names column %q, which the table does not have: fix the rule",
			t.Schema, t.Name, mc.Template, mc.Column))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return kt, nil
}

// Compile binds every rule's templates and watch columns to column
// positions of t. A template naming a column the table does not have is
// kept as broken so the rule's other keys still go out (see Missing).
func Compile(t *schema.Table, rules []*config.Rule, m *metrics.Metrics) *Table {
	name := t.Schema + "." + t.Name
	kt := &Table{table: t, name: name, uses: make([]bool, len(t.Columns))}
	for ri, r := range rules {
		cr := rule{wbStream: r.WriteBehind.Stream}
		for ti, tpl := range r.Templates {
			ct := kt.compileTemplate(tpl, slices.Contains(r.WriteBehind.Owned, ti), m)
			ct.set = r.Sets() && slices.Contains(r.SetKeys, ti)
			cr.templates = append(cr.templates, ct)
		}
		if r.Sets() {
			cr.value = CompileValue(t, &r.Value)
			for _, c := range cr.value.cols {
				kt.uses[c.p.col] = true
			}
		}
		if len(r.Watch) > 0 {
			for _, w := range r.Watch {
				i := ColumnIndex(t, w)
				if i < 0 {
					// A watched column that is gone cannot prove "unchanged":
					// fall back to treating every update as relevant.
					cr.watch = nil
					break
				}
				cr.watch = append(cr.watch, i)
			}
		}
		kt.rules = append(kt.rules, cr)
		kt.all = append(kt.all, ri)
	}
	kt.used = usedColumns(kt.rules)
	return kt
}

func (kt *Table) compileTemplate(tpl *config.Template, owned bool, m *metrics.Metrics) template {
	t := kt.table
	ct := template{raw: tpl.Raw, owned: owned,
		nulls:   m.KeysNullSkipped.WithLabelValues(kt.name, tpl.Raw),
		empties: m.KeysEmptySkipped.WithLabelValues(kt.name, tpl.Raw)}
	if ct.owned && !PrimaryKeyOnly(t, tpl.Columns()) {
		// Checked at start; a DDL since may have changed the key:
		// a plain delete is always safe.
		ct.owned = false
		kt.notOwnable = append(kt.notOwnable, tpl.Raw)
	}
	for _, p := range tpl.Parts {
		if p.Column == "" {
			ct.parts = append(ct.parts, part{lit: p.Literal, col: -1})
			continue
		}
		i := ColumnIndex(t, p.Column)
		if i < 0 && ct.broken == nil {
			ct.broken = &Missing{Template: tpl.Raw, Column: p.Column, counter: m.TemplateErrors.WithLabelValues(kt.name, p.Column)}
			kt.missing = append(kt.missing, *ct.broken)
		}
		p := part{col: i}
		if i >= 0 {
			kt.uses[i] = true
			var unknown string
			p, unknown = columnPart(t, i)
			if unknown != "" {
				kt.unknownCharsets = append(kt.unknownCharsets, unknown)
			}
		}
		ct.parts = append(ct.parts, p)
	}
	return ct
}

// columnPart binds column i of t with the corrections its type needs, and
// names it with its charset when that cannot be converted to UTF-8.
func columnPart(t *schema.Table, i int) (p part, unknownCharset string) {
	c := &t.Columns[i]
	p = part{col: i, pad: binaryPad(c), fsp: timeFsp(c), year: isYear(c), def: fixMembers(c)}
	var cs string
	var unknown bool
	p.dec, cs, unknown = columnDecoder(c)
	if unknown {
		unknownCharset = c.Name + " (" + cs + ")"
	}
	return p, unknownCharset
}

// usedColumns are the columns a template or a watch list of rules reads.
func usedColumns(rules []rule) []int {
	used := []int{}
	for _, r := range rules {
		for _, ct := range r.templates {
			for _, p := range ct.parts {
				if p.col >= 0 && !slices.Contains(used, p.col) {
					used = append(used, p.col)
				}
			}
		}
		for _, c := range r.watch {
			if !slices.Contains(used, c) {
				used = append(used, c)
			}
		}
	}
	return used
}
