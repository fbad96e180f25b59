package canal

import (
	"context"
	"fmt"
	"testing"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// A micro-benchmark of the handler's per-row path, with no server (key
// rendering alone: keys/bench_test.go): rows hold the
// Go types go-mysql's binlog decoder produces (canal's defaults: unsigned
// integers converted to uintN, DECIMAL and DATETIME as strings, text as the
// column's stored bytes). Run with
//
//	go test ./canal -run '^$' -bench . -benchtime 200ms -count 10 | tee new.txt
//
// and compare runs with benchstat.

// discardSink acknowledges nothing and keeps nothing.
type discardSink struct{ keys int }

func (s *discardSink) Send(_ context.Context, b *event.Batch) error {
	s.keys += len(b.Keys)
	return nil
}

// BenchmarkRowKeys is the handler path for one UPDATE rows event of 100
// rows (before and after images) on a table with two key templates and a
// watch list: watch check, rendering, de-duplication within the
// transaction, the batch handed to the sink. change=email changes a
// watched column in every row (3 distinct keys per row: the id key is the
// same before and after); change=unwatched changes only a column outside
// the watch list, so every row is skipped. rowid=true adds the per-row
// identities the Kafka transport keys its messages by. Each iteration is
// its own transaction (the de-duplication set is reset, as at an XID).
func BenchmarkRowKeys(b *testing.B) {
	const rows = 100
	tbl := testenv.Table("shop", "users",
		"id", "bigint(20) unsigned", "",
		"email", "varchar(255)", "utf8mb4_general_ci",
		"name", "varchar(64)", "utf8mb4_general_ci",
		"balance", "decimal(12,2)", "",
		"updated_at", "datetime(6)", "",
	)
	rule := testenv.Rule(b, "shop.users", []string{"email", "name"}, "user:{id}", "user:email:{email}")
	for _, change := range []string{"email", "unwatched"} {
		image := make([][]any, 0, 2*rows)
		for i := range rows {
			id := uint64(1_000_000 + i)
			before := []any{id, fmt.Sprintf("user%d@example.com", id), "Alice Martin", "10.00", "2026-11-26 10:00:00.000000"}
			after := []any{id, before[1], before[2], "12.50", "2026-11-26 10:00:01.250000"}
			if change == "email" {
				after[1] = fmt.Sprintf("user%d@example.org", id)
			}
			image = append(image, before, after)
		}
		wantKeys := 0
		if change == "email" {
			wantKeys = 3 * rows
		}
		for _, rowID := range []bool{false, true} {
			b.Run(fmt.Sprintf("change=%s/rowid=%t", change, rowID), func(b *testing.B) {
				tracker := checkpoint.NewTracker(event.Position{})
				sink := &discardSink{}
				tl := New(config.Default().Source, []*config.Rule{rule}, sink, tracker, zap.NewNop(), metrics.New(nil), retry.Backoff{})
				tl.RowIdentity = rowID
				h := newHandler(tl)
				h.ctx = context.Background()
				h.curFile = "mysql-bin.000001"
				ev := &gocanal.RowsEvent{Table: tbl, Action: gocanal.UpdateAction, Rows: image,
					Header: &replication.EventHeader{EventType: replication.UPDATE_ROWS_EVENTv2, LogPos: 4096, Timestamp: uint32(time.Now().Unix())}}

				// One event first, checked, which also compiles the table.
				if err := h.OnRow(ev); err != nil {
					b.Fatal(err)
				}
				if sink.keys != wantKeys {
					b.Fatalf("%d keys sent, want %d", sink.keys, wantKeys)
				}
				h.resetSeen()

				b.ReportAllocs()
				for b.Loop() {
					if err := h.OnRow(ev); err != nil {
						b.Fatal(err)
					}
					h.resetSeen()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			})
		}
	}
}
