package kafkamsg

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
)

func setsMessage() Message {
	return Message{Source: "s", DB: "shop", Table: "products", Op: event.OpUpdate, Row: `shop.products:"1"`,
		Pos: event.Position{File: "mysql-bin.000002", Pos: 900}, CommitTime: time.Unix(1700000000, 0).UTC(),
		Keys: []string{"cat:1", "product:1", "product:old\xff", "ph:1"},
		Sets: []event.Set{
			{Key: "product:old\xff", Version: event.Version{File: 2, Pos: 900, Seq: 0}, Delete: true},
			{Key: "product:1", Version: event.Version{File: 2, Pos: 900, Seq: 1}, JSON: []byte(`{"name":"𝄞 \"q\""}`), TTL: time.Hour},
			{Key: "ph:1", Version: event.Version{File: 2, Pos: 900, Seq: 1}, Fields: []string{"name", "日本", "bin", "\x00\xff"}},
		}}
}

func TestSetsRoundTrip(t *testing.T) {
	m := setsMessage()
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"sets":[{"key":{"b64":`) || !strings.Contains(string(b), `"version":"000000020000038400000`) {
		t.Errorf("encoded: %s", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if !reflect.DeepEqual(got.Sets, m.Sets) || !reflect.DeepEqual(got.Keys, m.Keys) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.Sets, m.Sets)
	}
}

// TestSetsAreCompatibleWithV1 is what a v1 consumer that does not know
// "sets" does: it ignores the field and deletes every key, set keys too.
func TestSetsAreCompatibleWithV1(t *testing.T) {
	b, _ := Encode(setsMessage())
	var nw *NewerVersionError
	if _, err := Decode(b); errors.As(err, &nw) || !strings.HasPrefix(string(b), `{"v":1,`) {
		t.Fatalf("a message with sets must stay v1: %v %s", err, b)
	}
	m := setsMessage()
	m.Keys = []string{"cat:1"}
	if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), "must also be in keys") {
		t.Errorf("a set key missing from keys must be refused (older consumers would leave it stale): %v", err)
	}
}

func TestSetsStrict(t *testing.T) {
	good, _ := Encode(setsMessage())
	for _, c := range []struct{ from, to, want string }{
		{`"delete":true`, `"delete":false`, "must be true"},
		{`"version":"00000002`, `"version":"X0000002`, "hex"},
		{`,"json":`, `,"hash":["a","b"],"json":`, "exactly one of"},
		{`"ttl_ms":3600000`, `"ttl_ms":-1`, "non-negative"},
		{`"hash":["name",`, `"hash":[`, "pairs"},
	} {
		bad := strings.Replace(string(good), c.from, c.to, 1)
		if bad == string(good) {
			t.Fatalf("%q not in %s", c.from, good)
		}
		if _, err := Decode([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: got %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

func TestSplitSendsEachSetWithItsKey(t *testing.T) {
	m := setsMessage()
	var many []string
	for i := range 200 {
		many = append(many, strings.Repeat("k", 40)+string(rune('a'+i%26)))
	}
	m.Keys = append(many[:100:100], append(m.Keys, many[100:]...)...)
	parts, err := Split(m, 4096)
	if err != nil || len(parts) < 2 {
		t.Fatalf("split: %d parts, %v", len(parts), err)
	}
	n := 0
	for _, p := range parts {
		n += len(p.Sets)
		if _, err := Encode(p); err != nil {
			t.Errorf("a part does not encode: %v", err)
		}
	}
	if n != 3 || len(parts[0].Sets) != 0 {
		t.Errorf("sets: %d in all, %d with the first part (whose keys are not set keys); want 3, 0", n, len(parts[0].Sets))
	}
}
