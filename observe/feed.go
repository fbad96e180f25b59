package observe

import (
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
)

// Feed turns the tailer's row changes (canal.RowObserver) into the
// observer's changes: the committed version from the row's version column,
// the row's primary key for the confirmation.
type Feed struct {
	o   *Observer
	x   map[*config.Rule]*Extractor
	log *zap.Logger
}

// NewFeed returns the canal.RowObserver of o for the observed rules.
func NewFeed(o *Observer, rules []*config.Rule) (*Feed, error) {
	f := &Feed{o: o, x: map[*config.Rule]*Extractor{}, log: o.deps.Log}
	for _, r := range rules {
		if !r.Observe.Enabled() {
			continue
		}
		x, err := NewExtractor(r.Observe)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Table, err)
		}
		f.x[r] = &x
	}
	return f, nil
}

var _ canal.RowObserver = (*Feed)(nil)

// Take implements canal.RowObserver.
func (f *Feed) Take() bool { return f.o.Take() }

// Row implements canal.RowObserver; it never blocks.
func (f *Feed) Row(rc canal.RowChange) {
	x := f.x[rc.Rule]
	if x == nil {
		return
	}
	t := rc.Table
	col := t.FindColumn(rc.Rule.Observe.Column)
	label := rc.Rule.Name
	if label == "" {
		label = rc.Rule.Table
	}
	c := Change{Rule: label, Keys: rc.Keys, Commit: rc.Commit, Delete: rc.Op == event.OpDelete,
		Ref: RowRef{DB: t.Schema, Table: t.Name, Column: rc.Rule.Observe.Column}}
	if !c.Delete {
		if col < 0 || col >= len(rc.Row) {
			f.log.Warn("observe: the rule's version column is not in the table", zap.String("table", t.Schema+"."+t.Name), zap.String("column", rc.Rule.Observe.Column))
			return
		}
		v, ok := intOf(rc.Row[col])
		if !ok {
			return // NULL or not an integer: nothing to compare with
		}
		c.Version = v
	}
	var pk [][]byte
	for _, i := range t.PKColumns {
		if i >= len(rc.Row) {
			return
		}
		c.Ref.PK = append(c.Ref.PK, t.Columns[i].Name)
		c.Ref.Values = append(c.Ref.Values, rc.Row[i])
		b, _ := keys.AppendValue(nil, &t.Columns[i], rc.Row[i])
		pk = append(pk, b)
	}
	c.Row = string(event.AppendRowID(nil, t.Schema, t.Name, pk...))
	f.o.Offer(c, x)
}

// intOf reads an integer column value as go-mysql decodes it.
func intOf(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= 1<<63-1
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	case []byte:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}
