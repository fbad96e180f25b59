package torture

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValueCodec(t *testing.T) {
	text := "строка 7 | 行 🦀🚀 \" } ." // JSON syntax in the payload must not confuse the reader
	b := encodeValue(42, 3, 17, text)
	v, r, s, ok := decodeValue(b)
	if !ok || v != 42 || r != 3 || s != 17 {
		t.Fatalf("decode(%q) = %d %d %d %v", b, v, r, s, ok)
	}
	var back cachedValue
	if json.Unmarshal(b, &back) != nil || back.Text != text {
		t.Errorf("payload lost: %q", b)
	}
	for _, bad := range []string{"", "lease:abc", `{"fill":"2.3"}`, `{"version":1,"fill":"2.x"}`, `{"version":"x","fill":"2.3"}`, `{"version":1}`} {
		if _, _, _, ok := decodeValue([]byte(bad)); ok {
			t.Errorf("decode(%q) accepted it", bad)
		}
	}
}

func TestBuckets(t *testing.T) {
	for p, want := range map[time.Duration]int{0: 0, 999 * time.Microsecond: 0, time.Millisecond: 1,
		50 * time.Millisecond: 2, 100 * time.Millisecond: 3, 2 * time.Second: 4, time.Minute: 5} {
		if got := bucketOf(p); got != want {
			t.Errorf("bucketOf(%v) = %d, want %d", p, got, want)
		}
	}
	b := newBuckets()
	if len(b) != 6 || b[0].From != 0 || b[0].To != Millis(time.Millisecond) || b[5].To != 0 {
		t.Errorf("buckets %+v", b)
	}
}

func sampleReport() Report {
	return Report{Writers: 4, Readers: 32, Rows: 5000, Duration: Millis(30 * time.Second), SecondDelay: Millis(50 * time.Millisecond),
		Pause: DefaultPause, Seed: 1, Modes: []ModeResult{
			{Mode: ModeAppDelete, Reads: 2_000_000, Loads: 300_000, Writes: 90_000, Keys: 4900, Stale: 37,
				StalePerMillion: 18.5, StalePauseMin: Millis(700 * time.Microsecond), StalePauseMax: Millis(480 * time.Millisecond), StaleUnderD: 20,
				StaleKeys: []StaleKey{{Key: "item:9", Cached: 3, Current: 4, Fill: "2.10", Pause: Millis(1500 * time.Microsecond)}}},
			{Mode: ModeDouble, Reads: 1_500_000, Loads: 250_000, Writes: 80_000, Keys: 4800},
			{Mode: ModeLease, Error: "not available in this build"},
		}}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("want a settings line, a header, 3 modes and the error line; got %d lines", len(lines))
	}
	for i, want := range [][]string{
		{"4 writers", "32 readers", "5000 rows", "30s per mode", "D=50ms", DefaultPause, "seed 1"},
		{"mode", "reads", "writes", "stale keys", "stale / 10^6 reads"},
		{"app-delete", "2000000", "90000", "300000", " 37 ", "18.5", "700µs–480ms, 20 under D"},
		{"double", "1500000", " 0 ", "0.0", " -"},
		{"lease"},
		{"lease: did not finish: not available in this build"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"second_delay_ms": 50.000`, `"stale_per_million_reads": 18.5`, `"pause_ms": 1.500`, `"error": "not available in this build"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.SecondDelay != Millis(50*time.Millisecond) || back.Modes[0].StaleKeys[0].Pause != Millis(1500*time.Microsecond) ||
		back.Modes[0].Stale != 37 || back.Modes[2].Error == "" {
		t.Errorf("round trip lost figures: %+v", back)
	}
}
