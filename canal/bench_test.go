package canal

import (
	"context"
	"fmt"
	"testing"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/schema"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// Micro-benchmarks of the per-row hot path, with no server: rows hold the
// Go types go-mysql's binlog decoder produces (canal's defaults: unsigned
// integers converted to uintN, DECIMAL and DATETIME as strings, text as the
// column's stored bytes). Run with
//
//	go test ./canal -run '^$' -bench . -benchtime 200ms -count 10 | tee new.txt
//
// and compare runs with benchstat.

// benchRule builds a rule as Validate would leave it (Templates parsed).
func benchRule(tb testing.TB, table string, watch []string, keys ...string) *config.Rule {
	tb.Helper()
	r := &config.Rule{Table: table, Keys: keys, Watch: watch}
	for _, k := range keys {
		tpl, err := config.ParseTemplate(k)
		if err != nil {
			tb.Fatalf("template %q: %v", k, err)
		}
		r.Templates = append(r.Templates, tpl)
	}
	return r
}

// benchTable builds a schema as schema.NewTable does; cols are name, SQL
// type, collation triples. The first column is the primary key.
func benchTable(db, name string, cols ...string) *schema.Table {
	t := &schema.Table{Schema: db, Name: name, PKColumns: []int{0}}
	for i := 0; i+2 < len(cols); i += 3 {
		t.AddColumn(cols[i], cols[i+1], cols[i+2], "")
	}
	return t
}

// BenchmarkRender renders one key template against one row image, as
// tableKeys.renderRow does for each template: compiled once per schema,
// scratch buffer reused.
func BenchmarkRender(b *testing.B) {
	tbl := benchTable("shop", "orders",
		"id", "bigint(20) unsigned", "",
		"email", "varchar(255)", "utf8mb4_general_ci",
		"price", "decimal(12,2)", "",
		"updated_at", "datetime(6)", "",
		"user_id", "bigint(20) unsigned", "",
		"name", "varchar(64)", "latin1_swedish_ci",
	)
	row := []any{
		uint64(1234567890123),
		"alice.martin@example.com",
		"1234.50",
		"2026-11-26 10:00:00.123456",
		uint64(42),
		"Ren\xe9e Fran\xe7ois", // latin1 bytes, as stored
	}
	cases := []struct {
		name, tpl, want string
	}{
		{"bigint_unsigned", "user:{id}", "user:1234567890123"},
		{"varchar_utf8mb4", "user:email:{email}", "user:email:alice.martin@example.com"},
		{"decimal", "price:{price}", "price:1234.50"},
		{"datetime6", "ts:{updated_at}", "ts:2026-11-26 10:00:00.123456"},
		{"two_columns", "order:{user_id}:{id}", "order:42:1234567890123"},
		{"varchar_latin1", "name:{name}", "name:Renée François"},
	}
	m := metrics.New(nil)
	for _, c := range cases {
		b.Run("type="+c.name, func(b *testing.B) {
			tk := compileTable(tbl, []*config.Rule{benchRule(b, "shop.orders", nil, c.tpl)}, tableMetrics{m})
			ct := &tk.rules[0].templates[0]
			if ct.broken != nil {
				b.Fatalf("template %q: column %q missing", c.tpl, ct.broken.column)
			}
			dst := make([]byte, 0, 64)
			got, ok := ct.render(tk.table, row, dst)
			if !ok || string(got) != c.want {
				b.Fatalf("render %q = %q, %v; want %q", c.tpl, got, ok, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = ct.render(tk.table, row, dst[:0])
			}
		})
	}
}

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
	tbl := benchTable("shop", "users",
		"id", "bigint(20) unsigned", "",
		"email", "varchar(255)", "utf8mb4_general_ci",
		"name", "varchar(64)", "utf8mb4_general_ci",
		"balance", "decimal(12,2)", "",
		"updated_at", "datetime(6)", "",
	)
	rule := benchRule(b, "shop.users", []string{"email", "name"}, "user:{id}", "user:email:{email}")
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
