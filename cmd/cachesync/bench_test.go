package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Whole-process benchmarks of `cachesync run` against real MariaDB and Redis.
// They report figures (rows/s, peak RSS); they never assert them. Run with
//
//	go test ./cmd/cachesync -run '^$' -bench . -benchtime 1x
//
// Each iteration seeds its own table, so -benchtime 1x is the useful setting.
// CACHESYNC_BENCH_CPUPROFILE=F writes a CPU profile of cachesync during the
// timed part to F (through http.pprof); inspect it with go tool pprof.

// BenchmarkBurst: 200,000 row updates as 200 statements of 1,000 rows, timed
// from the first statement until the last affected key is gone from Redis.
func BenchmarkBurst(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rows, elapsed, hwm := runBulk(b, 200000, 1000, "")
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	}
}

// BenchmarkBurstKafka: the same burst with transport.kind kafka, tailer and
// consumer in one cachesync process (--role all), the broker (kfake) in the
// benchmark's process; message=row and message=batch.
func BenchmarkBurstKafka(b *testing.B) {
	for _, message := range []string{"row", "batch"} {
		b.Run("message="+message, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				extra := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: inv, group: cachesync, create_topic: true, partitions: 4, message: %s}
`, testenv.StartKafka(b), message)
				rows, elapsed, hwm := runBulk(b, 200000, 1000, extra)
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// BenchmarkLargeTransaction: one UPDATE of 1,000,000 rows in one transaction;
// what matters is peak RSS, which must not grow with the transaction.
func BenchmarkLargeTransaction(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rows, elapsed, hwm := runBulk(b, 1000000, 1000000, "")
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	}
}

// runBulk seeds n rows, starts cachesync, caches every user:{id} key, then
// updates all rows in statements of per rows and waits for every key to go.
// It returns the rows, the time from the first statement to the last key
// gone, and cachesync's peak RSS in KiB.
func runBulk(b *testing.B, n, per int, extra string) (int, time.Duration, int) {
	db := testenv.SharedMariaDB(b)
	e := newEnv(b, db, []string{usersSchema}, usersRules, extra)
	e.rewriteConfig("second_delay: 200ms", "second_delay: 500ms")
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	profile := os.Getenv("CACHESYNC_BENCH_CPUPROFILE")
	if profile != "" {
		e.enableMetrics()
		e.rewriteConfig(`http: {addr: "127.0.0.1:`, `http: {pprof: true, addr: "127.0.0.1:`)
	}
	p := e.start()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i+1)
	}
	e.setKeys(keys...)
	conn := db.Conn(b)
	b.ResetTimer()
	var profiled chan struct{}
	if profile != "" {
		profiled = make(chan struct{})
		go func() { defer close(profiled); cpuProfile(b, p, profile) }()
	}
	start := time.Now()
	for lo := 1; lo <= n; lo += per {
		q := fmt.Sprintf("UPDATE `%s`.users SET name = 'b%d' WHERE id BETWEEN %d AND %d", e.name, lo, lo, lo+per-1)
		if _, err := conn.Execute(q); err != nil {
			b.Fatal(err)
		}
	}
	e.waitGone(10*time.Minute, keys...)
	elapsed := time.Since(start)
	b.StopTimer()
	if profiled != nil {
		<-profiled
	}
	hwm := peakRSS(b, p.cmd.Process.Pid)
	p.stop(b)
	return n, elapsed, hwm
}

// peakRSS reads VmHWM (KiB) of a live process.
func peakRSS(b *testing.B, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// cpuProfile saves a 2-second CPU profile of p (started with http.pprof).
func cpuProfile(b *testing.B, p *proc, path string) {
	m := metricsAddr.FindStringSubmatch(p.out.String())
	if m == nil {
		b.Error("cachesync did not log its http address")
		return
	}
	go func() { // the heap in the middle of the burst, next to the CPU profile
		time.Sleep(time.Second)
		if resp, err := http.Get("http://" + m[1] + "/debug/pprof/heap"); err == nil {
			defer resp.Body.Close()
			if f, err := os.Create(path + ".heap"); err == nil {
				_, _ = io.Copy(f, resp.Body)
				f.Close()
			}
		}
	}()
	resp, err := http.Get("http://" + m[1] + "/debug/pprof/profile?seconds=2")
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Error(err)
	}
}
