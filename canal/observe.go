package canal

import (
	"time"

	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
)

// RowObserver hears row changes of the rules with observe (the consistency
// observer). Take is asked for each such change and rule; only when it
// says yes are the rule's keys rendered and Row called, so an unsampled
// change costs one call. Row must not block.
type RowObserver interface {
	Take() bool
	Row(RowChange)
}

// RowChange is one row change of one observed rule.
type RowChange struct {
	Rule   *config.Rule
	Op     event.Op
	Table  *schema.Table
	Row    []any    // the after image; the before image of a DELETE
	Keys   []string // the rule's keys rendered from Row
	Commit time.Time
}

// observeRow hands the change to the observer for each observed rule among
// those it invalidates (h.ruleBuf): a rule whose watch list skipped the
// change is expected to keep its value.
func (h *handler) observeRow(tk *tableKeys, op event.Op, row []any, commit time.Time) {
	obs := h.t.Rows
	if obs == nil {
		return
	}
	for _, ri := range h.ruleBuf {
		r := tk.rules[ri]
		if !r.Observe.Enabled() || !obs.Take() {
			continue
		}
		var ks []string
		tk.Render(row, []int{ri}, keys.AddFunc(func(k []byte) { ks = append(ks, string(k)) }))
		if len(ks) == 0 {
			continue
		}
		obs.Row(RowChange{Rule: r, Op: op, Table: tk.Schema(), Row: row, Keys: ks, Commit: commit})
	}
}
