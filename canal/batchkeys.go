package canal

import (
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
)

// What goes into a transaction's batch besides the keys the renderer
// produces: the row each key came from (for a transport that keys messages
// by row) and the de-duplication of keys within the transaction.

// markRow names the row whose keys were just added to the batch, when the
// transport keys its messages by row. An UPDATE that changes the primary key
// is named by its new key: the row's later changes carry that one.
func (h *handler) markRow(tk *tableKeys, row []any) {
	if !h.t.RowIdentity {
		return
	}
	b := h.batch
	start := 0
	if n := len(b.RowEnds); n > 0 {
		start = b.RowEnds[n-1]
	}
	if len(b.Keys) == start {
		return // every key of this row already went out with an earlier row
	}
	h.pkVals = h.pkVals[:0]
	for _, c := range tk.Schema().PKColumns {
		var v []byte
		if c < len(row) {
			v, _ = keys.AppendValue(nil, &tk.Schema().Columns[c], row[c])
		}
		h.pkVals = append(h.pkVals, v)
	}
	h.idBuf = event.AppendRowID(h.idBuf[:0], tk.Schema().Schema, tk.Schema().Name, h.pkVals...)
	b.RowIDs = append(b.RowIDs, string(h.idBuf))
	b.RowEnds = append(b.RowEnds, len(b.Keys))
}

// add is the keySink the renderer feeds: de-duplicate within the transaction.
func (h *handler) add(key []byte) {
	if _, dup := h.seen[string(key)]; dup {
		return
	}
	if len(h.seen) >= h.t.DedupLimit {
		h.seen = make(map[string]struct{})
	}
	k := string(key)
	h.seen[k] = struct{}{}
	h.batch.Keys = append(h.batch.Keys, k)
}

// resetSeen starts a new de-duplication set. A map that grew large is
// replaced rather than cleared: clearing costs its capacity, every time.
func (h *handler) resetSeen() {
	switch {
	case len(h.seen) > 4096:
		h.seen = make(map[string]struct{})
	case len(h.seen) > 0:
		clear(h.seen)
	}
}
