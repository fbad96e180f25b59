package backfill

import (
	"context"
	"math"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// BenchmarkBackfillRate measures what --rate delivers: a 5 s backfill at
// 2000 rows/s over a 10,000-row table, reporting rows/s and the deviation
// from the requested rate (the acceptance bound is 10%). It measures;
// it asserts nothing.
//
//	go test ./backfill -run '^$' -bench BackfillRate -benchtime 1x
func BenchmarkBackfillRate(b *testing.B) {
	const rows, perSecond = 10000, 2000.0
	db := testenvShared(b)
	name := db.NewDatabase(b)
	db.Exec(b, "CREATE TABLE `"+name+"`.r (id INT PRIMARY KEY, v INT)")
	db.Exec(b, "INSERT INTO `"+name+"`.r SELECT seq, seq FROM `"+name+"`.seq_1_to_10000")
	rules := testenv.RulesFromText(b, "rules:\n  - table: db.r\n    keys: [\"r:{id}\", \"v:{v}\"]\n", name)
	for b.Loop() {
		ctx := context.Background()
		j, err := Prepare(ctx, sourceOf(db), rules, Options{Table: name + ".r", Rate: perSecond, DryRun: true},
			zap.NewNop(), metrics.New(nil), retry.Backoff{})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		if err := j.Run(ctx, &collector{acker: j.Acker()}); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(began)
		st, err := j.Finish(ctx)
		j.Close()
		if err != nil || st.RowsRead != rows {
			b.Fatalf("read %d rows: %v", st.RowsRead, err)
		}
		got := float64(st.RowsRead) / elapsed.Seconds()
		b.ReportMetric(got, "rows/s")
		b.ReportMetric(100*math.Abs(got-perSecond)/perSecond, "deviation-%")
		b.ReportMetric(elapsed.Seconds(), "s/run")
	}
}
