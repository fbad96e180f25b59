package kafkamsg

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

func manyKeys(n, size int) []string {
	keys := make([]string, n)
	for i := range keys {
		k := fmt.Sprintf("user:%d:", i)
		if i%7 == 3 {
			k += "\xff" // some keys go out as b64, which is longer
		}
		keys[i] = k + strings.Repeat("x", max(0, size-len(k)))
	}
	return keys
}

// checkChunks verifies the contract of Split: order kept, nothing lost or
// duplicated, every chunk within the limit, no empty chunk.
func checkChunks(t *testing.T, m Message, chunks []Message, limit int) {
	t.Helper()
	var all []string
	var guarded []bool
	for i, c := range chunks {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if n := len(b) + len(c.Row) + RecordOverhead; n > limit {
			t.Fatalf("chunk %d: %d bytes with key and overhead, limit %d", i, n, limit)
		}
		c.Keys, c.Guarded = nil, nil
		want := m
		want.Keys, want.Guarded = nil, nil
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("chunk %d changed other fields: %#v", i, c)
		}
		all = append(all, chunks[i].Keys...)
		for j := range chunks[i].Keys {
			guarded = append(guarded, j < len(chunks[i].Guarded) && chunks[i].Guarded[j])
		}
	}
	if !reflect.DeepEqual(all, m.Keys) {
		t.Fatalf("chunks hold %d keys, want the %d keys in order", len(all), len(m.Keys))
	}
	for i, g := range guarded {
		if g != (i < len(m.Guarded) && m.Guarded[i]) {
			t.Fatalf("key %d: guarded %v after the split, want %v", i, g, !g)
		}
	}
}

// defaultMaxBytes is the record limit of a config that does not set
// transport.kafka.max_message_bytes.
func defaultMaxBytes() int { return config.Default().Transport.Kafka.MaxMessageBytes }

func TestSplit(t *testing.T) {
	m := sample()
	m.Keys = manyKeys(500, 40)
	whole, _ := Encode(m)
	exact := len(whole) + len(m.Row) + RecordOverhead
	for _, tc := range []struct {
		name   string
		keys   []string
		limit  int
		chunks int // -1: only check the contract
	}{
		{"fits under the default", m.Keys, defaultMaxBytes(), 1},
		{"exact fit", m.Keys, exact, 1},
		{"one byte short", m.Keys, exact - 1, 2},
		{"small limit", m.Keys, 2000, -1},
		{"one key per chunk", manyKeys(5, 400), 1000, 5},
		{"3 MiB of keys", manyKeys(3000, 1000), defaultMaxBytes(), 4}, // a seventh of them b64, a third longer
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := m
			in.Keys = tc.keys
			chunks, err := Split(in, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			limit := tc.limit
			checkChunks(t, in, chunks, limit)
			if tc.chunks >= 0 && len(chunks) != tc.chunks {
				t.Fatalf("%d chunks, want %d", len(chunks), tc.chunks)
			}
			// Greedy: no chunk could have taken the next chunk's first key.
			for i := 0; i+1 < len(chunks); i++ {
				c := chunks[i]
				c.Keys = append(append([]string(nil), c.Keys...), chunks[i+1].Keys[0])
				b, _ := Encode(c)
				if len(b)+len(c.Row)+RecordOverhead <= limit {
					t.Fatalf("chunk %d could also hold the next key", i)
				}
			}
		})
	}
}

func TestSplitKeyTooBig(t *testing.T) {
	m := sample()
	m.Keys = []string{"small", strings.Repeat("k", 2000), "small2"}
	_, err := Split(m, 1500)
	if err == nil || !strings.Contains(err.Error(), "key 1 (2000 bytes") || !strings.Contains(err.Error(), "never split") {
		t.Fatalf("Split = %v, want an error naming key 1", err)
	}
}

// Appending to a chunk must not overwrite the next chunk's keys.
func TestSplitChunksDoNotAlias(t *testing.T) {
	m := sample()
	m.Keys = manyKeys(10, 300)
	chunks, err := Split(m, 1500)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("Split = %d chunks, %v", len(chunks), err)
	}
	next := chunks[1].Keys[0]
	_ = append(chunks[0].Keys, "appended")
	if chunks[1].Keys[0] != next {
		t.Fatal("chunk 0 shares its backing array with chunk 1")
	}
}

// TestAppendEncoded: the publisher's one-pass encoding gives parts that
// decode to what Split and Encode give — the whole message when it fits,
// the same chunks when it does not, sets dropped past half the limit —
// each a full slice of one shared buffer that later appends do not change.
func TestAppendEncoded(t *testing.T) {
	withSets := sample()
	withSets.Sets = []event.Set{{Key: "user:42", Version: event.Version{File: 42, Pos: 1337, Seq: 1}, JSON: []byte(`{"id":42,"name":"Zoë 😀"}`)}}
	bigSets := withSets
	bigSets.Sets = []event.Set{{Key: "user:42", Version: event.Version{File: 42, Pos: 1337, Seq: 1}, JSON: []byte(`"` + strings.Repeat("é", 1200) + `"`)}}
	split := sample()
	split.Keys = manyKeys(300, 40)
	split.Guarded = make([]bool, 300)
	split.Guarded[7], split.Guarded[299] = true, true
	for _, tc := range []struct {
		name  string
		m     Message
		limit int
	}{
		{"fits", sample(), defaultMaxBytes()},
		{"fits with sets", withSets, defaultMaxBytes()},
		{"sets over half the limit, message within it", bigSets, 4000},
		{"split with guarded keys", split, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := Split(tc.m, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			buf := []byte("prefix")
			buf, parts, err := AppendEncoded(buf, tc.m, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			snapshot := make([][]byte, len(parts))
			for i, p := range parts {
				snapshot[i] = append([]byte(nil), p...)
			}
			buf = append(buf, strings.Repeat("z", 5000)...) // a later message's append
			_ = buf
			if len(parts) != len(chunks) {
				t.Fatalf("%d parts, Split gives %d chunks", len(parts), len(chunks))
			}
			for i, p := range parts {
				if string(p) != string(snapshot[i]) {
					t.Fatalf("part %d changed by a later append", i)
				}
				if len(p)+len(tc.m.Row)+RecordOverhead > tc.limit {
					t.Fatalf("part %d: %d bytes over the limit %d", i, len(p), tc.limit)
				}
				want, _ := Encode(chunks[i])
				if string(p) != string(want) {
					t.Fatalf("part %d:\n got %s\nwant %s", i, p, want)
				}
			}
		})
	}
	bad := sample()
	bad.Keys = []string{""}
	if _, _, err := AppendEncoded(nil, bad, defaultMaxBytes()); err == nil {
		t.Fatal("an empty key was encoded")
	}
}
