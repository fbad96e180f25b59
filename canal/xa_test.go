package canal

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

type xaRig struct {
	t   *testing.T
	h   *handler
	col *collector
}

func newXARig(t *testing.T, limit int, store checkpoint.Blob, log *zap.Logger) *xaRig {
	tracker := checkpoint.NewTracker(event.Position{})
	col := &collector{tracker: tracker}
	tl := New(config.SourceConfig{}, nil, col, tracker, log, metrics.New(nil), retry.Backoff{})
	tl.XAKeyLimit, tl.XAStore = limit, store
	h := newHandler(tl)
	h.ctx = context.Background()
	xa, err := loadXA(h.ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	h.xa = xa
	return &xaRig{t: t, h: h, col: col}
}

func (r *xaRig) gtid(seq uint64, flags byte) {
	r.t.Helper()
	e := &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: seq}, Flags: flags}
	if err := r.h.OnGTID(&replication.EventHeader{LogPos: 100}, e); err != nil {
		r.t.Fatal(err)
	}
}

func (r *xaRig) rows(keys ...string) { r.h.keepXA(&event.Batch{DB: "d", Table: "t", Keys: keys}) }

func (r *xaRig) boundary() {
	r.t.Helper()
	if err := r.h.OnPosSynced(&replication.EventHeader{LogPos: 200}, mysql.Position{Name: "b.1", Pos: 200}, nil, false); err != nil {
		r.t.Fatal(err)
	}
}

func (r *xaRig) sent() []string {
	k := r.col.keys()
	r.col.batches = nil
	return k
}

// Keys of prepare groups are sent again at each completion and forgotten
// once every prepare has one; a prepare read twice counts once; keys of
// ordinary transactions are never kept.
func TestXAKeysSentAgainAtCompletion(t *testing.T) {
	r := newXARig(t, 100, nil, zap.NewNop())
	r.gtid(1, flPreparedXA)
	r.rows("a", "b")
	r.gtid(2, 0) // an ordinary transaction in between
	r.rows("x")
	r.gtid(3, flPreparedXA)
	r.rows("c")
	r.gtid(1, flPreparedXA) // the first prepare read again (a reconnect): collected afresh
	r.rows("a", "b")
	r.gtid(4, flCompletedXA) // one completes: both are sent again
	if got := r.sent(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first completion sent %q, want a b c", got)
	}
	r.gtid(4, flCompletedXA) // the same completion read again: sent again, not counted twice
	r.sent()
	r.gtid(5, flCompletedXA) // the other: sent again, then both are forgotten
	if got := r.sent(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("second completion sent %q, want a b c", got)
	}
	r.gtid(6, flCompletedXA)
	if got := r.sent(); len(got) != 0 {
		t.Fatalf("a completion with nothing open sent %q", got)
	}
}

// Past XAKeyLimit further keys are not kept, with one warning.
func TestXAKeyLimit(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	r := newXARig(t, 3, nil, zap.New(core))
	r.gtid(1, flPreparedXA)
	r.rows("p1", "p2")
	r.rows("p3", "p4")
	r.rows("p5")
	r.gtid(2, flCompletedXA)
	if got := r.sent(); !slices.Equal(got, []string{"p1", "p2", "p5"}) {
		t.Fatalf("limit 3: sent %q, want what fitted", got)
	}
	if logs.FilterMessageSnippet("open XA transactions").Len() != 1 {
		t.Errorf("want one warning for the limit, got %v", logs.All())
	}
}

// Open prepares are saved at the next boundary (before the checkpoint can
// pass them), byte strings intact, and a new tailer that loads them deletes
// them again at the completion: a restart between prepare and commit.
func TestXAStateSurvivesRestart(t *testing.T) {
	store := checkpoint.FileBlob{Path: filepath.Join(t.TempDir(), "cp.xa")}
	r := newXARig(t, 100, store, zap.NewNop())
	r.gtid(1, flPreparedXA)
	r.rows("k\xff\x00", "plain")
	if raw, _ := store.Load(context.Background()); raw != nil {
		t.Fatalf("saved before a boundary: %s", raw)
	}
	r.gtid(2, 0)
	r.boundary()
	if raw, _ := store.Load(context.Background()); raw == nil {
		t.Fatal("the open prepare was not saved at the boundary")
	}

	again := newXARig(t, 100, store, zap.NewNop()) // the restart
	again.gtid(3, flCompletedXA)
	if got := again.sent(); !slices.Equal(got, []string{"k\xff\x00", "plain"}) {
		t.Fatalf("after a restart the completion sent %q", got)
	}
	again.boundary()
	if st, err := loadXA(context.Background(), store); err != nil || len(st.Prepared) != 0 {
		t.Fatalf("after the completion the saved state is %+v, %v; want empty", st, err)
	}
}

// The de-duplication set lives for one transaction. XA PREPARE and XA
// COMMIT groups end with no boundary canal reports (its parser rejects XA
// statements), so each group's GTID event starts a new set: a key of an XA
// transaction is not taken for a duplicate in the next transaction.
func TestDedupSetEndsAtEachGroup(t *testing.T) {
	r := newXARig(t, 100, nil, zap.NewNop())
	emit := func(keys ...string) []string {
		b := &event.Batch{}
		r.h.batch = b
		for _, k := range keys {
			r.h.add([]byte(k))
		}
		r.h.batch = nil
		return b.Keys
	}
	r.gtid(1, flPreparedXA)
	if got := emit("user:1", "user:1"); !slices.Equal(got, []string{"user:1"}) {
		t.Fatalf("XA prepare group emitted %q, want user:1 once", got)
	}
	r.gtid(2, flCompletedXA)
	r.gtid(3, 0) // an ordinary transaction updating the same row
	if got := emit("user:1"); !slices.Equal(got, []string{"user:1"}) {
		t.Fatalf("the transaction after an XA commit emitted %q, want user:1 (dropped as a duplicate of the XA group's)", got)
	}
}
