package canal

import (
	"fmt"
	"slices"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
)

// MariaDB writes an XA transaction's rows when it is prepared (XA PREPARE),
// in an event group whose GTID event has FL_PREPARED_XA; the XA COMMIT (or
// ROLLBACK) comes later in its own group, flagged FL_COMPLETED_XA. Deleting
// keys only at the prepare leaves a window: a reader refilling a key before
// the commit caches the old value. So the keys of prepared groups are kept
// and deleted again when a completion is read. go-mysql does not decode the
// XID of these events, so a completion cannot be matched to its prepare:
// every completion deletes the keys of every prepared group still open
// (more deletes than needed, never fewer), and they are dropped once as many
// completions as prepares were read. Best effort within one connection: a
// reconnect or restart between prepare and commit forgets them (the binlog
// boundary may already be past the prepare), as before this existed.
const (
	flPreparedXA  = 64  // MariaDB Gtid_log_event FL_PREPARED_XA
	flCompletedXA = 128 // FL_COMPLETED_XA
)

type xaState struct {
	inPrepare bool           // the current event group is an XA PREPARE
	open      int            // prepares read and not yet completed
	pending   []*event.Batch // copies of the batches of open prepares
	keys      int            // keys in pending
	warned    bool
}

// OnGTID notes XA prepare and completion groups (MariaDB only).
func (h *handler) OnGTID(hdr *replication.EventHeader, e mysql.BinlogGTIDEvent) error {
	g, ok := e.(*replication.MariadbGTIDEvent)
	if !ok {
		h.xa.inPrepare = false
		return nil
	}
	h.xa.inPrepare = g.Flags&flPreparedXA != 0
	if h.xa.inPrepare {
		h.xa.open++
	}
	if g.Flags&flCompletedXA != 0 {
		return h.xaCompleted(hdr)
	}
	return nil
}

// keepXA keeps a copy of b when it belongs to an XA PREPARE group.
func (h *handler) keepXA(b *event.Batch) {
	if !h.xa.inPrepare {
		return
	}
	c := &event.Batch{DB: b.DB, Table: b.Table, Op: b.Op, Rows: b.Rows, Keys: slices.Clone(b.Keys), Pos: b.Pos,
		CommitTime: b.CommitTime, RowIDs: slices.Clone(b.RowIDs), RowEnds: slices.Clone(b.RowEnds)}
	h.xa.pending = append(h.xa.pending, c)
	h.xa.keys += len(c.Keys)
	for h.xa.keys > h.t.XAKeyLimit && len(h.xa.pending) > 1 {
		h.xa.keys -= len(h.xa.pending[0].Keys)
		h.xa.pending = h.xa.pending[1:]
		if !h.xa.warned {
			h.xa.warned = true
			h.t.log.Warn("more keys of prepared XA transactions than cachesync keeps for their commit: the oldest are deleted at their prepare only",
				zap.Int("limit", h.t.XAKeyLimit), zap.Stringer("position", b.Pos))
		}
	}
}

// xaCompleted deletes the keys of every open prepare again, and forgets
// them once every prepare has its completion.
func (h *handler) xaCompleted(hdr *replication.EventHeader) error {
	pos := event.Position{File: h.curFile, Pos: hdr.LogPos}
	for _, p := range h.xa.pending {
		b := &event.Batch{DB: p.DB, Table: p.Table, Op: p.Op, Rows: p.Rows, Keys: p.Keys, Pos: pos, CommitTime: p.CommitTime,
			RowIDs: p.RowIDs, RowEnds: p.RowEnds}
		b.Seq = h.t.tracker.Next()
		if err := h.t.sink.Send(h.ctx, b); err != nil {
			return fmt.Errorf("hand %d keys of %s.%s (XA commit) at %s to the transport: %w", len(b.Keys), b.DB, b.Table, pos, err)
		}
	}
	if h.xa.open > 0 {
		h.xa.open--
	}
	if h.xa.open == 0 {
		h.xa = xaState{warned: h.xa.warned}
	}
	return nil
}
