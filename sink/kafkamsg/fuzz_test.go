package kafkamsg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
)

// FuzzDecode: Decode never panics, fails only with *DecodeError (or
// *NewerVersionError for a "v" above Version), and what it
// accepts encodes and decodes again to the same message.
func FuzzDecode(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"keys":["\ud83d\ude00",{"b64":"/w=="}],"ts":"2026-01-01T00:00:00+14:00"}`))
	f.Add([]byte(`{"v":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			var ne *NewerVersionError
			if !errors.As(err, &de) && !errors.As(err, &ne) {
				t.Fatalf("Decode error %T %v, want *DecodeError or *NewerVersionError", err, err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode accepted what Encode refuses: %v\n%q", err, b)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, enc)
		}
		if !equal(m, m2) {
			t.Fatalf("decode→encode→decode changed the message:\n%#v\n%#v", m, m2)
		}
		enc2, _ := Encode(m2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzRoundTrip: any non-empty byte strings as keys and row come back
// exactly, and Split never loses, reorders or oversizes them.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("user:42"), []byte("\xff\xfe"), []byte(`shop.users:"42"`), uint32(4), int64(1764151200120000000), 300)
	f.Add([]byte("\x00"), []byte(`\ud800"\`), []byte("\xed\xa0\x80"), uint32(0), int64(0), 0)
	f.Fuzz(func(t *testing.T, k1, k2, row []byte, pos uint32, nanos int64, limit int) {
		if len(k1) == 0 || len(k2) == 0 || len(row) == 0 {
			return
		}
		m := Message{
			Source: "s", DB: "d", Table: "t", Op: event.OpDelete, Row: string(row),
			Pos:        event.Position{File: "f", Pos: pos},
			CommitTime: time.Unix(0, nanos).UTC(),
			Keys:       []string{string(k1), string(k2), string(k1) + string(k2)},
		}
		if m.CommitTime.IsZero() {
			return
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if !equal(got, m) || !reflect.DeepEqual(got.Keys, m.Keys) || got.Row != m.Row {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
		}
		limit = 256 + limit%4096
		if chunks, err := Split(m, limit); err == nil {
			checkChunks(t, m, chunks, limit)
		}
	})
}
