package canal

import (
	"hash/fnv"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
)

// Write-through (rules with action: set). For each row the handler tells
// setRow which image it renders; the set keys the render produces come to
// AddSet, which puts an event.Set in the batch: the row's value for an
// inserted row or an update's new image, a tombstone for a deleted row or
// an update's old image. The tombstone of an update's old image has the
// lower version of the two, so a key the update did not move ends up set.

// wtRow is the row image being rendered and what it means for set keys.
type wtRow struct {
	tk    *tableKeys
	row   []any
	seq   int  // the change's place in the rows event (event.Version.Seq)
	gone  bool // a deleted row or an update's old image: tombstone
	valid bool
}

// setRow says which image the next Render call renders.
func (h *handler) setRow(tk *tableKeys, row []any, seq int, gone bool) {
	h.wt = wtRow{tk: tk, row: row, seq: seq, gone: gone, valid: true}
}

// AddSet is keys.Setter for the handler: the set key of rule ri of the row
// in h.wt. Whatever cannot be written exactly is deleted instead.
func (o keyOut) AddSet(key []byte, ri int) {
	h := o.h
	if !h.t.WriteThrough || !h.wt.valid {
		h.add(key) // a transport without write-through (Kafka, for now) deletes
		return
	}
	v, ok := event.VersionAt(h.batch.Pos, h.wt.seq)
	if !ok {
		h.add(key)
		return
	}
	s := event.Set{Key: string(key), Version: v, Delete: h.wt.gone}
	if !s.Delete {
		tk := h.wt.tk
		val, rule := tk.Value(ri), tk.rules[ri]
		if val.IsHash() {
			s.Fields, ok = val.AppendFields(tk.Schema(), h.wt.row, make([]string, 0, 8))
			if ok && s.Fields == nil {
				s.Fields = []string{} // every column NULL: an empty hash, which Redis keeps as no key
			}
		} else {
			s.JSON, h.wtScratch, ok = val.AppendJSON(tk.Schema(), h.wt.row, nil, h.wtScratch)
		}
		if !ok {
			h.valueRefused(tk, key)
			return
		}
		s.TTL = rule.ExpireIn(jitterShare(key))
	}
	h.batch.Sets = append(h.batch.Sets, s)
}

// dropUnmoved removes from sets[old:mid], an update's tombstones for its
// old image, those of keys its new image (sets[mid:]) sets: the update did
// not move the key, and the set, one version newer, replaces the value
// anyway. Sent, the tombstone cost Redis an UNLINK and a version write per
// row for nothing. A tombstone stays when the new image deletes the key
// instead (a value that cannot be rendered) or no longer has it.
func dropUnmoved(sets []event.Set, old, mid int) []event.Set {
	out := old
	for i := old; i < mid; i++ {
		if !setLater(sets[mid:], sets[i].Key) {
			sets[out] = sets[i]
			out++
		}
	}
	if out == mid {
		return sets
	}
	n := copy(sets[out:], sets[mid:])
	clear(sets[out+n:])
	return sets[:out+n]
}

func setLater(sets []event.Set, key string) bool {
	for i := range sets {
		if !sets[i].Delete && sets[i].Key == key {
			return true
		}
	}
	return false
}

// valueRefused deletes a set key whose value cannot be rendered (a value
// column dropped by a DDL, or absent from the row image), and says so once
// per table version.
func (h *handler) valueRefused(tk *tableKeys, key []byte) {
	h.add(key)
	if tk.valueWarned {
		return
	}
	tk.valueWarned = true
	var missing []string
	for ri := range tk.rules {
		if v := tk.Value(ri); v != nil {
			missing = append(missing, v.Missing()...)
		}
	}
	h.t.log.Error("write-through value cannot be rendered: its keys are invalidated instead until the rule or the table is fixed",
		zap.String("table", tk.name), zap.Strings("missing_columns", missing), zap.Stringer("position", h.batch.Pos))
}

// jitterShare is a key's share of ttl_jitter, in [0,1): drawn from the
// key, so keys written together spread their expiry and no random source
// is needed.
func jitterShare(key []byte) float64 {
	f := fnv.New64a()
	_, _ = f.Write(key)
	return float64(f.Sum64()>>11) / (1 << 53)
}
