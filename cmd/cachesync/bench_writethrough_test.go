package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// wtBenchRules writes each user's row through instead of deleting its key.
const wtBenchRules = `  - table: DB.users
    keys: ["user:{id}"]
    action: set
    value: {json: [id, email, name]}
`

// BenchmarkWriteThroughBurst is BenchmarkBurst with a write-through rule:
// 200,000 row updates as 200 statements of 1,000 rows, timed from the first
// statement until every key holds its row's new value. Also reported: the
// p99 and max, over rows, of the time from its statement's acknowledgement
// to its key's SET (keyspace notifications).
//
//	go test ./cmd/cachesync -run '^$' -bench WriteThroughBurst -benchtime 1x
func BenchmarkWriteThroughBurst(b *testing.B) {
	for _, tg := range []benchTarget{targetDirect, targetKafka} {
		for _, second := range []string{"500ms", "0s"} {
			b.Run("target="+string(tg)+"/second_delay="+second, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					writeThroughBurst(b, tg, second, 200000, 1000)
				}
			})
		}
	}
}

// second is delete.second_delay: the second pass rewrites every set (see
// README), so "0s" shows what it costs.
func writeThroughBurst(b *testing.B, tg benchTarget, second string, n, per int) {
	b.StopTimer()
	db := testenv.SharedMariaDB(b)
	e := newEnvRedis(b, db, []string{usersSchema}, wtBenchRules, tg.extra(b), testenv.RedisOptions{NotifyKeyspaceEvents: "E$"})
	e.rewriteConfig("second_delay: 200ms", "second_delay: "+second)
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	quiesce(b, db)
	p := tg.start(b, e)
	defer p.stop(b)

	setAt := watchKeyEvents(b, e.rdb, "set", "user:", n) // not the version keys
	conn := db.Conn(b)
	acked := make([]time.Time, n/per+1)
	b.StartTimer()
	start := time.Now()
	for lo := 1; lo <= n; lo += per {
		q := fmt.Sprintf("UPDATE `%s`.users SET name = 'b%d' WHERE id BETWEEN %d AND %d", e.name, lo, lo, lo+per-1)
		if _, err := conn.Execute(q); err != nil {
			b.Fatal(err)
		}
		acked[(lo-1)/per] = time.Now()
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		got := setAt.count()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d keys set", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	// Not timed: every key holds its new value.
	for lo := 1; lo <= n; lo += 5000 {
		if v := e.rdb.Get(context.Background(), "user:"+strconv.Itoa(lo)).Val(); !strings.Contains(v, `"name":"b`+strconv.Itoa(lo)+`"`) {
			b.Fatalf("user:%d = %q after the burst", lo, v)
		}
	}
	var lat []time.Duration
	for id := 1; id <= n; id++ {
		at, _ := setAt.when("user:" + strconv.Itoa(id))
		lat = append(lat, max(0, at.Sub(acked[(id-1)/per])))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(peakRSS(b, p.cmd.Process.Pid))/1024, "peak-RSS-MiB")
}
