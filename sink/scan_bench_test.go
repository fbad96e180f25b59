package sink

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkScannerDelete: what on_truncate: scan costs on one node holding
// 100,000 keys of the rule among 100,000 others (no rate cap). Reports keys
// walked and deleted per second.
func BenchmarkScannerDelete(b *testing.B) {
	r := testenv.StartRedis(b)
	rdb := r.Client(b)
	ctx := context.Background()
	const n = 100000
	fillBench := func(prefix string) {
		pipe := rdb.Pipeline()
		for i := range n {
			pipe.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), "v", 0)
			if i%5000 == 4999 {
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	fillBench("other")
	s := &Scanner{Client: rdb, Log: zap.NewNop()}
	var walked, deleted int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fillBench("user")
		b.StartTimer()
		st, err := s.Delete(ctx, "bench.users", []string{"user:*"})
		if err != nil {
			b.Fatal(err)
		}
		walked += 2 * n
		deleted += st.Deleted
	}
	b.ReportMetric(float64(walked)/b.Elapsed().Seconds(), "keys_walked/s")
	b.ReportMetric(float64(deleted)/b.Elapsed().Seconds(), "keys_deleted/s")
}
