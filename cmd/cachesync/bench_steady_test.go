package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkSteady: single-row UPDATEs at a fixed rate for a fixed time, each
// of a row whose key is cached; the latency of one update runs from the
// client's commit acknowledgement to the key's deletion, as Redis announces
// it (keyspace notifications, event del — UNLINK fires it too). Reported:
// p50, p99 and max in milliseconds, and updates whose key never went
// (missing, after 5 s of grace). The floor, the direct and the Kafka
// transport, 500/s and 5,000/s for CACHESYNC_BENCH_STEADY (default 20s)
// each, second delete on (500 ms; the floor has none). The updates come from
// 8 connections; rate=500/conns=1 sends them one after another from a single
// connection, as an application's one writer does (where issue 17 measured
// a direct tail the 8-connection runs did not show). The write-through
// targets (writethrough-direct, writethrough-kafka; 500/s and 5,000/s) run
// the same updates under a write-through rule, timed to the key's SET with
// the new row (event set; the version keys are left out). With
// CACHESYNC_BENCH_SAMPLES=DIR every latency is also written to
// DIR/steady-TARGET-RATE[-1conn].txt (microseconds, one a line, sorted), for
// cachesync-bench's distribution plot.
//
//	go test ./cmd/cachesync -run '^$' -bench Steady -benchtime 1x
func BenchmarkSteady(b *testing.B) {
	dur := 20 * time.Second
	if v := os.Getenv("CACHESYNC_BENCH_STEADY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("CACHESYNC_BENCH_STEADY: %v", err)
		}
		dur = d
	}
	for _, tg := range []benchTarget{targetFloor, targetDirect, targetKafka} {
		for _, rate := range []int{500, 5000} {
			b.Run(fmt.Sprintf("target=%s/rate=%d", tg, rate), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					steadyRun{tg: tg, rate: rate, workers: 8, dur: dur}.once(b)
				}
			})
		}
		b.Run(fmt.Sprintf("target=%s/rate=500/conns=1", tg), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				steadyRun{tg: tg, rate: 500, workers: 1, dur: dur}.once(b)
			}
		})
	}
	// Write-through (issue 19): the latency runs to the key's SET with the
	// row's new value instead of its deletion.
	for _, tg := range []benchTarget{targetDirect, targetKafka} {
		for _, rate := range []int{500, 5000} {
			b.Run(fmt.Sprintf("target=writethrough-%s/rate=%d", tg, rate), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					steadyRun{tg: tg, rate: rate, workers: 8, dur: dur, writeThrough: true}.once(b)
				}
			})
		}
	}
}

// steadyRun is one BenchmarkSteady run.
type steadyRun struct {
	tg           benchTarget
	rate         int
	workers      int
	dur          time.Duration
	writeThrough bool // a write-through rule: timed to the key's SET
}

func (r steadyRun) once(b *testing.B) {
	b.StopTimer()
	tg, rate, workers, dur := r.tg, r.rate, r.workers, r.dur
	n := int(float64(rate) * dur.Seconds())
	db := testenv.SharedMariaDB(b)
	rules, events, event := usersRules, "Eg", "del"
	if r.writeThrough {
		rules, events, event = wtBenchRules, "E$", "set"
	}
	e := newEnvRedis(b, db, []string{usersSchema}, rules, tg.extra(b), testenv.RedisOptions{NotifyKeyspaceEvents: events})
	e.rewriteConfig("second_delay: 200ms", "second_delay: 500ms")
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i+1)
	}
	e.setKeys(keys...)
	quiesce(b, db)
	p := tg.start(b, e)
	defer p.stop(b)

	deleted := watchKeyEvents(b, e.rdb, event, "user:", n) // not the version keys

	acked := make([]time.Time, n)
	ids := make(chan int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		c, err := client.Connect(db.Addr, "root", "", "")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, err := c.Execute(fmt.Sprintf("UPDATE `%s`.users SET name = 's' WHERE id = %d", e.name, id)); err != nil {
					b.Error(err)
					return
				}
				acked[id-1] = time.Now()
			}
		}()
	}
	b.StartTimer()
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		ids <- i + 1
	}
	close(ids)
	wg.Wait()
	b.StopTimer()
	achieved := float64(n) / time.Since(start).Seconds()

	deadline := time.Now().Add(5 * time.Second)
	var lat []time.Duration
	missing := 0
	for {
		if deleted.count() >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, k := range keys {
		d, ok := deleted.when(k)
		if !ok {
			missing++
			continue
		}
		lat = append(lat, max(0, d.Sub(acked[i])))
	}
	slices.Sort(lat)
	name := fmt.Sprintf("steady-%s-%d", tg, rate)
	if r.writeThrough {
		name = fmt.Sprintf("steady-writethrough-%s-%d", tg, rate)
	}
	if workers == 1 {
		name += "-1conn"
	}
	saveSamples(b, name+".txt", lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(missing), "missing")
	b.ReportMetric(achieved, "updates/s")
}

// saveSamples writes sorted latencies, in microseconds, to name under
// $CACHESYNC_BENCH_SAMPLES when that is set.
func saveSamples(b *testing.B, name string, lat []time.Duration) {
	dir := os.Getenv("CACHESYNC_BENCH_SAMPLES")
	if dir == "" {
		return
	}
	buf := make([]byte, 0, 8*len(lat))
	for _, d := range lat {
		buf = strconv.AppendInt(buf, d.Microseconds(), 10)
		buf = append(buf, '\n')
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		b.Fatal(err)
	}
}
