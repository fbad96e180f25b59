package kafkamsg

import (
	"fmt"
	"testing"
)

func benchMessage(keys int) Message {
	m := sample()
	m.Keys = make([]string, keys)
	for i := range m.Keys {
		m.Keys[i] = fmt.Sprintf("user:%d:orders:page:%d", 100000+i, i%10)
	}
	return m
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{2, 500} {
		m := benchMessage(n)
		enc, _ := Encode(m)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{2, 500} {
		enc, _ := Encode(benchMessage(n))
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	m := benchMessage(500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(m, defaultMaxBytes()); err != nil {
			b.Fatal(err)
		}
	}
}
