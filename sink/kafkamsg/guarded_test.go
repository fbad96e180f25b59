package kafkamsg

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Guarded keys travel as the optional "guarded" field (indexes into keys),
// and stay in keys: a consumer that does not know the field deletes them.
func TestGuardedRoundTrip(t *testing.T) {
	m := sample()
	m.Keys = []string{"item:1", "items:name:a", "item:\xff"}
	m.Guarded = []bool{true, false, true}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `"guarded":[0,2]}`) {
		t.Fatalf("encoded: %s; want guarded [0,2] last", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, m) {
		t.Fatalf("Decode:\n got %#v\nwant %#v", got, m)
	}
	// An older consumer reads the keys and nothing else: every key, plain.
	var old struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &old); err != nil || len(old.Keys) != 3 {
		t.Fatalf("a consumer that ignores guarded reads %d keys (%v), want all 3", len(old.Keys), err)
	}
	// A short Guarded (trailing keys plain) and an all-false one.
	for _, g := range [][]bool{{true}, {false, false}, nil} {
		m.Guarded = g
		b, _ := Encode(m)
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.Keys {
			want := i < len(g) && g[i]
			if (i < len(got.Guarded) && got.Guarded[i]) != want {
				t.Errorf("Guarded %v: key %d comes back guarded=%v (%s)", g, i, !want, b)
			}
		}
		if !strings.Contains(string(b), "guarded") && len(got.Guarded) != 0 {
			t.Errorf("no guarded field, yet Decode gives %v", got.Guarded)
		}
	}
}

func TestGuardedDecodeErrors(t *testing.T) {
	base := `{"v":1,"source":"s","db":"d","table":"t","op":"update","row":"r","file":"f","pos":1,"ts":"2026-11-26T10:00:00Z","keys":["a","b"]`
	for _, tc := range []struct{ guarded, want string }{
		{`"0"`, "must be an array"},
		{`[0.5]`, "integer indexes"},
		{`[2]`, "below 2"},
		{`[-1]`, "below 2"},
		{`[1,0]`, "above the one before"},
		{`[0,0]`, "above the one before"},
	} {
		_, err := Decode([]byte(base + `,"guarded":` + tc.guarded + `}`))
		var de *DecodeError
		if err == nil || !errors.As(err, &de) || de.Field != "guarded" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("guarded %s: %v; want a DecodeError on field guarded saying %q", tc.guarded, err, tc.want)
		}
	}
	if _, err := Decode([]byte(base + `,"guarded":[]}`)); err != nil {
		t.Errorf("empty guarded: %v", err)
	}
}

func TestSplitGuarded(t *testing.T) {
	m := sample()
	m.Keys = manyKeys(300, 40)
	m.Guarded = make([]bool, 250) // the last 50 keys: past its end, plain
	for i := range m.Guarded {
		m.Guarded[i] = i%3 == 0
	}
	for _, limit := range []int{1500, 4000, defaultMaxBytes()} {
		chunks, err := Split(m, limit)
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, m, chunks, limit) // flags re-based onto each chunk's keys
		if limit == 1500 && len(chunks) < 3 {
			t.Errorf("limit %d: %d chunks; the test wants several", limit, len(chunks))
		}
	}
}
