package flusher

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkWriteBehindFlush measures stream entries flushed to MySQL per
// second with batch 500: b.N set entries are queued first (as the set
// script writes them), then one flusher drains them. "distinct" writes a new
// row per entry (no coalescing helps); "hot" spreads them over 1,000 rows.
//
//	go test ./writebehind/flusher -run '^$' -bench WriteBehindFlush -benchtime 200000x -count 2
func BenchmarkWriteBehindFlush(b *testing.B) {
	for _, bc := range []struct {
		name string
		rows int // 0: one row per entry
	}{{"distinct", 0}, {"hot", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newWBEnv(b, testenv.SharedMariaDB(b))
			e.queueRaw(b.N, bc.rows)
			f := e.flusher("bench", func(c *Config) { c.Batch = 500 })
			b.ResetTimer()
			began := time.Now()
			r := run(b, f)
			e.waitDrained(10 * time.Minute)
			elapsed := time.Since(began)
			b.StopTimer()
			if err := r.stop(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(metricValue(b, e.m, "batches"), "transactions")
		})
	}
}

// queueRaw appends n set entries to the stream in pipelines.
func (e *wbEnv) queueRaw(n, rows int) {
	e.t.Helper()
	ctx := context.Background()
	pipe := e.rdb.Pipeline()
	for i := range n {
		id := i
		if rows > 0 {
			id = i % rows
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "wb:items", Values: []any{"v", "1", "op", "set", "table", e.table(),
			"pk", `{"id":` + strconv.Itoa(id) + `}`, "cols", `{"qty":` + strconv.Itoa(i) + `,"name":"n` + strconv.Itoa(i) + `"}`}})
		if pipe.Len() == 1000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}
