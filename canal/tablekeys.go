package canal

import (
	"github.com/go-mysql-org/go-mysql/schema"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/metrics"
)

// tableKeys is a table's compiled rules (keys.Table) with what the tailer
// keeps beside them per table: its counters, with label values curried once
// so the per-row path only increments plain counters, and what it learnt of
// the table's schema.
type tableKeys struct {
	*keys.Table
	name string // db.table

	rows, events   map[string]prometheus.Counter // by op
	emitted        prometheus.Counter
	watchSkipped   prometheus.Counter
	schemaMismatch prometheus.Counter
	recorded       bool        // its schema is in the SchemaHistory
	kinds          []valueKind // each column's valueKind (rowfit.go)
	rules          []*config.Rule
	cascade        *keys.Table // the rules' cascade keys templates; nil when none (norows.go)
	valueWarned    bool        // a write-through value could not be rendered: logged once
}

// compileTable compiles rules against t (keys.Compile) and binds the
// table's tailer counters.
func compileTable(t *schema.Table, rules []*config.Rule, m *metrics.Metrics) *tableKeys {
	kt := keys.Compile(t, rules, m)
	name := kt.Name()
	tk := &tableKeys{Table: kt, name: name, rules: rules,
		rows: map[string]prometheus.Counter{}, events: map[string]prometheus.Counter{}}
	tk.cascade = cascadeTable(t, rules, m)
	for _, op := range []event.Op{event.OpInsert, event.OpUpdate, event.OpDelete} {
		tk.rows[op.String()] = m.BinlogRows.WithLabelValues(name, op.String())
		tk.events[op.String()] = m.BinlogEvents.WithLabelValues(name, op.String())
	}
	tk.emitted = m.KeysEmitted.WithLabelValues(name)
	tk.watchSkipped = m.WatchSkipped.WithLabelValues(name)
	tk.schemaMismatch = m.SchemaMismatch.WithLabelValues(name)
	return tk
}

// keyOut is the keys.Output of a handler: keys are de-duplicated within the
// transaction (add), and write-behind echoes get the guarded delete
// (writebehind.go).
type keyOut struct{ h *handler }

func (o keyOut) Add(key []byte)          { o.h.add(key) }
func (o keyOut) Echo(stream string) bool { return o.h.echo(stream) }
func (o keyOut) AddGuarded(key []byte)   { o.h.addGuarded(key) }
