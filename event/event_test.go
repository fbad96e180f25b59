package event

import (
	"fmt"
	"reflect"
	"testing"
)

// Guarded flags follow their keys through AddKey and RowKeys; a Guarded
// shorter than Keys leaves the keys past its end plain.
func TestGuardedKeys(t *testing.T) {
	var b Batch
	b.AddKey("a", false)
	b.AddKey("b", false)
	if b.Guarded != nil {
		t.Fatalf("plain keys only: Guarded = %v, want nil", b.Guarded)
	}
	b.AddKey("c", true)
	b.RowIDs, b.RowEnds = append(b.RowIDs, "r1"), append(b.RowEnds, len(b.Keys))
	b.AddKey("d", false)
	b.RowIDs, b.RowEnds = append(b.RowIDs, "r2"), append(b.RowEnds, len(b.Keys))
	b.AddKey("e", true)
	b.AddKey("f", false)
	b.RowIDs, b.RowEnds = append(b.RowIDs, "r3"), append(b.RowEnds, len(b.Keys))
	for i, want := range []bool{false, false, true, false, true, false} {
		if b.IsGuarded(i) != want {
			t.Errorf("key %d (%s): guarded %v, want %v", i, b.Keys[i], !want, want)
		}
	}
	var got []string
	_ = b.RowKeys(func(id string, keys []string, guarded []bool) error {
		got = append(got, fmt.Sprint(id, keys, guarded))
		return nil
	})
	want := []string{"r1[a b c] [false false true]", "r2[d] []", "r3[e f] [true]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RowKeys: %q, want %q", got, want)
	}
}
