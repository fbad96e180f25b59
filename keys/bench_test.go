package keys

import (
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// A micro-benchmark of key rendering, with no server: rows hold the Go
// types go-mysql's binlog decoder produces (canal's defaults: unsigned
// integers converted to uintN, DECIMAL and DATETIME as strings, text as the
// column's stored bytes). Run with
//
//	go test ./keys -run '^$' -bench . -benchtime 200ms -count 10 | tee new.txt
//
// and compare runs with benchstat.

// BenchmarkRender renders one key template against one row image, as
// Table.Render does for each template: compiled once per schema,
// scratch buffer reused.
func BenchmarkRender(b *testing.B) {
	tbl := testenv.Table("shop", "orders",
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
			kt := Compile(tbl, []*config.Rule{testenv.Rule(b, "shop.orders", nil, c.tpl)}, m)
			ct := &kt.rules[0].templates[0]
			if ct.broken != nil {
				b.Fatalf("template %q: column %q missing", c.tpl, ct.broken.Column)
			}
			dst := make([]byte, 0, 64)
			got, ok := ct.render(kt.table, row, dst)
			if !ok || string(got) != c.want {
				b.Fatalf("render %q = %q, %v; want %q", c.tpl, got, ok, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = ct.render(kt.table, row, dst[:0])
			}
		})
	}
}
