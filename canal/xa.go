package canal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/event"
)

// MariaDB writes an XA transaction's rows when it is prepared (XA PREPARE),
// in an event group whose GTID event has FL_PREPARED_XA; the XA COMMIT (or
// ROLLBACK) comes later in its own group, flagged FL_COMPLETED_XA. Deleting
// keys only at the prepare leaves a window: a reader refilling a key before
// the commit caches the old value. So the keys of prepared groups are kept
// and deleted again when a completion is read.
//
// go-mysql does not decode the XID of these events, so a completion cannot
// be matched to its prepare: every completion deletes the keys of every
// prepared group still open (more deletes than needed, never fewer), and
// all are dropped once as many completions as prepares were read. Groups
// are named by their GTID, so reading one again (after a reconnect or a
// restart from an older checkpoint) changes nothing.
//
// With Tailer.XAStore the open groups are saved beside the checkpoint
// before a transaction boundary can move the checkpoint past them, so a
// restart between prepare and commit still deletes again at the commit.
const (
	flPreparedXA  = 64  // MariaDB Gtid_log_event FL_PREPARED_XA
	flCompletedXA = 128 // FL_COMPLETED_XA
)

// xaState is the open prepares; its exported fields are what is saved.
type xaState struct {
	Prepared  map[string][]xaBatch `json:"prepared"`  // GTID of the prepare group → its batches
	Order     []string             `json:"order"`     // prepare GTIDs in the order read
	Completed map[string]bool      `json:"completed"` // GTIDs of completion groups read

	current string // GTID of the prepare group being read; "" when not in one
	keys    int
	dirty   bool // changed since the last save
	warned  bool
}

// xaBatch is a kept batch; byte strings as []byte, so JSON keeps every byte.
type xaBatch struct {
	DB, Table string
	Op        event.Op
	Rows      int
	Keys      [][]byte
	RowIDs    [][]byte
	RowEnds   []int
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func toStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// loadXA reads the saved open prepares (none when nothing was saved).
func loadXA(ctx context.Context, b checkpoint.Blob) (xaState, error) {
	var st xaState
	if b == nil {
		return st, nil
	}
	raw, err := b.Load(ctx)
	if err != nil {
		return st, fmt.Errorf("XA state %s: %w", b, err)
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &st); err != nil {
			return st, fmt.Errorf("XA state %s is corrupt: %v (delete it: keys of XA transactions prepared before this start are then not deleted again at their commit)", b, err)
		}
	}
	for _, g := range st.Prepared {
		for _, b := range g {
			st.keys += len(b.Keys)
		}
	}
	return st, nil
}

// saveXA saves the open prepares when they changed; a boundary calls it
// before it lets the checkpoint move.
func (h *handler) saveXA(ctx context.Context) error {
	if !h.xa.dirty || h.t.XAStore == nil {
		h.xa.dirty = false
		return nil
	}
	raw, err := json.Marshal(&h.xa)
	if err != nil {
		return err
	}
	if err := h.t.XAStore.Save(ctx, raw); err != nil {
		return fmt.Errorf("saving the keys of open XA transactions to %s: %w", h.t.XAStore, err)
	}
	h.xa.dirty = false
	return nil
}

// OnGTID starts an event group: a new de-duplication set (XA PREPARE and
// XA COMMIT groups end with no boundary canal reports, so the set of one
// must not outlive it), and notes XA prepare and completion groups
// (MariaDB only).
func (h *handler) OnGTID(hdr *replication.EventHeader, e mysql.BinlogGTIDEvent) error {
	h.resetSeen()
	h.xa.current = ""
	h.trxGTID = groupGTID(e)
	g, ok := e.(*replication.MariadbGTIDEvent)
	if !ok {
		return nil
	}
	h.ddlGTID(hdr, g)
	id := g.GTID.String()
	switch {
	case g.Flags&flPreparedXA != 0:
		if h.xa.Prepared == nil {
			h.xa.Prepared = map[string][]xaBatch{}
		}
		old, seen := h.xa.Prepared[id]
		for _, b := range old { // read again: collected afresh
			h.xa.keys -= len(b.Keys)
		}
		h.xa.Prepared[id] = nil
		if !seen {
			h.xa.Order = append(h.xa.Order, id)
		}
		h.xa.current = id
		h.xa.dirty = true
	case g.Flags&flCompletedXA != 0:
		return h.xaCompleted(hdr, id)
	}
	return nil
}

// keepXA keeps a copy of b when it belongs to an XA PREPARE group.
func (h *handler) keepXA(b *event.Batch) {
	if h.xa.current == "" {
		return
	}
	if h.xa.keys+len(b.Keys) > h.t.XAKeyLimit {
		if !h.xa.warned {
			h.xa.warned = true
			h.t.log.Warn("more keys of open XA transactions than cachesync keeps for their commit: the rest are deleted at their prepare only",
				zap.Int("limit", h.t.XAKeyLimit), zap.String("xa_gtid", h.xa.current), zap.Stringer("position", b.Pos))
		}
		return
	}
	h.xa.Prepared[h.xa.current] = append(h.xa.Prepared[h.xa.current], xaBatch{DB: b.DB, Table: b.Table, Op: b.Op, Rows: b.Rows,
		Keys: toBytes(b.Keys), RowIDs: toBytes(b.RowIDs), RowEnds: slices.Clone(b.RowEnds)})
	h.xa.keys += len(b.Keys)
	h.xa.dirty = true
}

// xaCompleted deletes the keys of every open prepare again, and forgets
// them once there are as many completions as prepares.
func (h *handler) xaCompleted(hdr *replication.EventHeader, id string) error {
	if len(h.xa.Prepared) == 0 {
		return nil // not one of ours (its prepare is before where we started)
	}
	pos := event.Position{File: h.curFile, Pos: hdr.LogPos}
	for _, pid := range h.xa.Order {
		for _, p := range h.xa.Prepared[pid] {
			b := &event.Batch{DB: p.DB, Table: p.Table, Op: p.Op, Rows: p.Rows, Keys: toStrings(p.Keys), Pos: pos, GTID: h.trxGTID,
				RowIDs: toStrings(p.RowIDs), RowEnds: p.RowEnds}
			b.Seq = h.t.tracker.Next()
			if err := h.t.sink.Send(h.ctx, b); err != nil {
				return fmt.Errorf("hand %d keys of %s.%s (XA commit) at %s to the transport: %w", len(b.Keys), b.DB, b.Table, pos, err)
			}
		}
	}
	if h.xa.Completed == nil {
		h.xa.Completed = map[string]bool{}
	}
	h.xa.Completed[id] = true
	if len(h.xa.Completed) >= len(h.xa.Prepared) {
		h.xa = xaState{warned: h.xa.warned}
	}
	h.xa.dirty = true
	return nil
}

// groupGTID is the GTID of an event group as the replicas report it
// (domain-server-seq, uuid:n), "" for MySQL's anonymous groups (gtid_mode
// OFF), whose server uuid is all zeros.
func groupGTID(e mysql.BinlogGTIDEvent) string {
	if g, ok := e.(*replication.GTIDEvent); ok {
		if allZero(g.SID) {
			return ""
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x:%d", g.SID[0:4], g.SID[4:6], g.SID[6:8], g.SID[8:10], g.SID[10:16], g.GNO)
	}
	set, err := e.GTIDNext()
	if err != nil || set == nil {
		return ""
	}
	return set.String()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
