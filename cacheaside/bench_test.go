package cacheaside_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/internal/testenv"
)

// The hit path's cost against a plain GET of the same value: each benchmark
// starts an identical private redis-server and reads one 100-byte value
// b.N times, one request at a time (the loopback round trip dominates
// both). Goal: GetHit ≤ 1.2 × PlainGET.

var benchValue = bytes.Repeat([]byte("x"), 100)

func benchRedis(b *testing.B) *redis.Client {
	b.Helper()
	rdb := testenv.StartRedis(b).Client(b)
	if err := rdb.Set(context.Background(), "item:42", benchValue, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	return rdb
}

func BenchmarkGetHit(b *testing.B) {
	rdb := benchRedis(b)
	c, err := cacheaside.New(rdb, cacheaside.Config{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	load := func(context.Context) ([]byte, error) { b.Fatal("miss"); return nil, nil }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v, err := c.Get(ctx, "item:42", load); err != nil || len(v) != len(benchValue) {
			b.Fatal(v, err)
		}
	}
}

func BenchmarkPlainGET(b *testing.B) {
	rdb := benchRedis(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v, err := rdb.Get(ctx, "item:42").Bytes(); err != nil || len(v) != len(benchValue) {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkHitVsPlainGET alternates one Get hit and one plain GET on the
// same server and connection pool, so load from other processes falls on
// both alike, and reports each one's time and their ratio (the figure the
// goal is about; the two benchmarks above drift apart on a busy machine).
func BenchmarkHitVsPlainGET(b *testing.B) {
	rdb := benchRedis(b)
	c, err := cacheaside.New(rdb, cacheaside.Config{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	load := func(context.Context) ([]byte, error) { b.Fatal("miss"); return nil, nil }
	var hit, plain time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		v, err := c.Get(ctx, "item:42", load)
		t1 := time.Now()
		w, err2 := rdb.Get(ctx, "item:42").Bytes()
		t2 := time.Now()
		if err != nil || err2 != nil || len(v) != len(w) {
			b.Fatal(err, err2)
		}
		hit, plain = hit+t1.Sub(t0), plain+t2.Sub(t1)
	}
	b.ReportMetric(float64(hit.Nanoseconds())/float64(b.N), "ns/get-hit")
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "ns/plain-get")
	b.ReportMetric(float64(hit)/float64(plain), "hit/plain")
}
