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
// timed part to F (through http.pprof), and a heap profile taken
// CACHESYNC_BENCH_HEAP_AT (default 1s) into it to F.heap; inspect them with
// go tool pprof. CACHESYNC_BENCH_PROFILE_AT (default 0) delays the CPU
// profile and CACHESYNC_BENCH_PROFILE_FOR (default 2s) sets its length.

// BenchmarkBurst: 200,000 row updates as 200 statements of 1,000 rows, timed
// from the first statement until the last affected key is gone from Redis,
// for each target in one run (the floor first).
func BenchmarkBurst(b *testing.B) {
	for _, tg := range []benchTarget{targetFloor, targetDirect, targetKafka, targetKafkaBatch} {
		b.Run("target="+string(tg), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rows, elapsed, hwm := runBulk(b, tg, 200000, 1000)
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// BenchmarkLargeTransaction: one UPDATE of 1,000,000 rows in one transaction;
// what matters is peak RSS, which must not grow with the transaction.
func BenchmarkLargeTransaction(b *testing.B) {
	for _, tg := range []benchTarget{targetDirect, targetKafka} {
		b.Run("target="+string(tg), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rows, elapsed, hwm := runBulk(b, tg, 1000000, 1000000)
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// runBulk seeds n rows, starts cachesync, caches every user:{id} key, then
// updates all rows in statements of per rows and waits for every key to go.
// It returns the rows, the time from the first statement to the last key
// gone, and cachesync's peak RSS in KiB.
func runBulk(b *testing.B, tg benchTarget, n, per int) (int, time.Duration, int) {
	db := testenv.SharedMariaDB(b)
	e := newEnv(b, db, []string{usersSchema}, usersRules, tg.extra(b))
	e.rewriteConfig("second_delay: 200ms", "second_delay: 500ms")
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	profile := os.Getenv("CACHESYNC_BENCH_CPUPROFILE")
	if profile != "" {
		e.enableMetrics()
		e.rewriteConfig(`http: {addr: "127.0.0.1:`, `http: {pprof: true, addr: "127.0.0.1:`)
	}
	quiesce(b, db)
	p := tg.start(b, e)
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
		at := time.Second
		if v, err := time.ParseDuration(os.Getenv("CACHESYNC_BENCH_HEAP_AT")); err == nil {
			at = v
		}
		time.Sleep(at)
		if resp, err := http.Get("http://" + m[1] + "/debug/pprof/heap"); err == nil {
			defer resp.Body.Close()
			if f, err := os.Create(path + ".heap"); err == nil {
				_, _ = io.Copy(f, resp.Body)
				f.Close()
			}
		}
	}()
	if at, err := time.ParseDuration(os.Getenv("CACHESYNC_BENCH_PROFILE_AT")); err == nil {
		time.Sleep(at)
	}
	secs := 2
	if d, err := time.ParseDuration(os.Getenv("CACHESYNC_BENCH_PROFILE_FOR")); err == nil {
		secs = max(1, int(d.Seconds()))
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m[1], secs))
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
