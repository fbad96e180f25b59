package canal

import (
	"context"
	"slices"
	"testing"

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

// The XA bookkeeping without a server: keys of prepare groups are sent
// again at each completion, forgotten once every prepare has completed,
// and capped at XAKeyLimit with one warning.
func TestXAKeysSentAgainAtCompletion(t *testing.T) {
	tracker := checkpoint.NewTracker(event.Position{})
	col := &collector{tracker: tracker}
	core, logs := observer.New(zapcore.WarnLevel)
	tl := New(config.SourceConfig{}, nil, col, tracker, zap.New(core), metrics.New(nil), retry.Backoff{})
	tl.XAKeyLimit = 3
	h := newHandler(tl)
	h.ctx = context.Background()
	hdr := &replication.EventHeader{LogPos: 100}
	gtid := func(flags byte) {
		if err := h.OnGTID(hdr, &replication.MariadbGTIDEvent{Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}
	batch := func(keys ...string) *event.Batch { return &event.Batch{DB: "d", Table: "t", Keys: keys} }
	sent := func() []string { k := col.keys(); col.batches = nil; return k }

	gtid(flPreparedXA)
	h.keepXA(batch("a", "b"))
	gtid(0) // an ordinary transaction in between
	h.keepXA(batch("x"))
	gtid(flPreparedXA)
	h.keepXA(batch("c"))
	gtid(flCompletedXA) // one of the two completes: both are sent again
	if got := sent(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first completion sent %q, want a b c", got)
	}
	gtid(flCompletedXA) // the other: sent again, then forgotten
	if got := sent(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("second completion sent %q, want a b c", got)
	}
	gtid(flCompletedXA) // nothing open
	if got := sent(); len(got) != 0 {
		t.Fatalf("a completion with nothing open sent %q", got)
	}

	// Past the cap the oldest prepare's keys are dropped, with one warning.
	gtid(flPreparedXA)
	h.keepXA(batch("p1", "p2"))
	h.keepXA(batch("p3", "p4"))
	h.keepXA(batch("p5"))
	gtid(flCompletedXA)
	if got := sent(); !slices.Equal(got, []string{"p3", "p4", "p5"}) {
		t.Fatalf("capped at 3 keys: sent %q, want the oldest batch dropped", got)
	}
	if logs.FilterMessageSnippet("prepared XA").Len() != 1 {
		t.Errorf("want one warning for the cap, got %v", logs.All())
	}
}
