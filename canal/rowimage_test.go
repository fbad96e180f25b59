package canal

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// checkRowImage looks at an event's first rows only (the column bitmaps
// are per event), yet fills every UPDATE pair, and still refuses an event
// whose before images lack a used column.
func TestCheckRowImageWholeEvent(t *testing.T) {
	tbl := testenv.Table("shop", "users",
		"id", "bigint(20)", "",
		"email", "varchar(255)", "utf8mb4_general_ci",
		"name", "varchar(64)", "utf8mb4_general_ci")
	rule := testenv.Rule(t, "shop.users", nil, "user:{id}", "user:email:{email}")
	h := newTestHandler(config.Default().Source, rule, zap.NewNop())
	tl := h.t
	tk := compileTable(tbl, []*config.Rule{rule}, tl.metrics)
	hdr := &replication.EventHeader{LogPos: 4096}
	gone := keys.Absent{}

	// NOBLOB-like after images: email left out of every after image.
	rows := [][]any{
		{int64(1), "a@x", "A"}, {int64(1), gone, "A2"},
		{int64(2), "b@x", "B"}, {int64(2), gone, "B2"},
		{int64(3), "c@x", "C"}, {int64(3), gone, "C2"},
	}
	if err := h.checkRowImage(tk, event.OpUpdate, rows, hdr); err != nil {
		t.Fatalf("after images lacking only unchanged columns: %v", err)
	}
	for i := 1; i < len(rows); i += 2 {
		if rows[i][1] != rows[i-1][1] {
			t.Errorf("after image %d: email %v, want the before image's %v", i/2, rows[i][1], rows[i-1][1])
		}
	}

	// MINIMAL before images: only the primary key.
	rows = [][]any{
		{int64(1), gone, gone}, {int64(1), "new@x", gone},
		{int64(2), gone, gone}, {int64(2), "new2@x", gone},
	}
	if err := h.checkRowImage(tk, event.OpUpdate, rows, hdr); !isUnsafe(err) {
		t.Fatalf("before images without email: err %v, want an UnsafeBinlogError", err)
	}
}

// newTestHandler is a handler of a tailer of src and rule that hands its
// batches to nothing, with no server connected.
func newTestHandler(src config.SourceConfig, rule *config.Rule, log *zap.Logger) *handler {
	return newHandler(New(src, []*config.Rule{rule}, &discardSink{}, checkpoint.NewTracker(event.Position{}), log, metrics.New(nil), retry.Backoff{}))
}
