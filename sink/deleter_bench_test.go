package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkDeleteRoundTrip measures one pipelined round trip deleting
// existing keys, UNLINK against DEL, at several batch sizes. Run with
//
//	go test ./sink -run '^$' -bench DeleteRoundTrip -benchtime 200x
//
// and read ns/key: the per-key cost is what sizes delete.batch_keys.
func BenchmarkDeleteRoundTrip(b *testing.B) {
	r := testenv.StartRedis(b)
	c := r.Client(b)
	for _, cmd := range []string{"unlink", "del"} {
		for _, n := range []int{1, 64, 512, 4096} {
			b.Run(fmt.Sprintf("%s/keys=%d", cmd, n), func(b *testing.B) {
				d, _ := newTestDeleter(b, r.Addr, DeleterConfig{UseDel: cmd == "del"}, &ackLog{})
				ctx := context.Background()
				keys := make([]string, n)
				for i := range keys {
					keys[i] = fmt.Sprintf("user:%d:profile", i)
				}
				g := group{batches: []*event.Batch{{Keys: keys, CommitTime: time.Now()}}}
				var elapsed time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					pipe := c.Pipeline()
					for _, k := range keys {
						pipe.Set(ctx, k, "a cached row of a typical size, some hundred bytes....................................", 0)
					}
					if _, err := pipe.Exec(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					if _, err := d.deleteOnce(ctx, g); err != nil {
						b.Fatal(err)
					}
					elapsed += time.Since(start)
				}
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/key")
			})
		}
	}
}
