package sink

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkWriteThroughScript measures what the write-through script costs
// Redis: 64 JSON keys a call, 16 calls a pipeline, as queueSets sends them,
// for keys that are new and keys whose value and version exist, with and
// without a TTL. Reported: Redis's CPU (user + system, from /proc) per key.
//
//	go test ./sink -run '^$' -bench WriteThroughScript -benchtime 400000x
func BenchmarkWriteThroughScript(b *testing.B) {
	r := testenv.StartRedis(b)
	c := r.Client(b)
	ctx := context.Background()
	s := redis.NewScript(WriteThroughScript())
	const val = `{"id":"123456","email":"user123456@example.com","name":"b123456"}`
	for _, ttl := range []time.Duration{0, time.Hour} {
		for _, existing := range []bool{false, true} {
			b.Run(fmt.Sprintf("ttl=%v/existing=%v", ttl, existing), func(b *testing.B) {
				if err := c.FlushAll(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				write := func(round uint32) {
					sets := make([]event.Set, b.N)
					for i := range sets {
						sets[i] = event.Set{Key: "user:" + strconv.Itoa(i), Version: event.Version{File: 1, Pos: round, Seq: uint32(i % 0xffffff)}, JSON: []byte(val), TTL: ttl}
					}
					for lo := 0; lo < b.N; lo += 16 * setsPerCall {
						pipe := c.Pipeline()
						for call := lo; call < min(b.N, lo+16*setsPerCall); call += setsPerCall {
							var keys []string
							var ptrs []*event.Set
							for i := call; i < min(b.N, call+setsPerCall); i++ {
								vk, _ := VersionKey(sets[i].Key)
								keys = append(keys, sets[i].Key, vk)
								ptrs = append(ptrs, &sets[i])
							}
							s.EvalSha(ctx, pipe, keys, scriptArgs(nil, ptrs)...)
						}
						if _, err := pipe.Exec(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := s.Load(ctx, c).Err(); err != nil {
					b.Fatal(err)
				}
				if existing {
					b.StopTimer()
					write(1)
					b.StartTimer()
				}
				cpu0 := procCPU(b, r.PID())
				write(2)
				b.ReportMetric((procCPU(b, r.PID())-cpu0).Seconds()*1e6/float64(b.N), "redis-us/key")
			})
		}
	}
}

// procCPU is the user and system CPU time process pid has used.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks: USER_HZ is 100 on Linux
}
