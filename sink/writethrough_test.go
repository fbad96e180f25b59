package sink

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

func TestVersionKey(t *testing.T) {
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"user:42", "{user:42}#cachesync-v", true},
		{"user:{42}:profile", "user:{42}:profile#cachesync-v", true},
		{"a{}b", "", false},
		{"用户:𝄞", "{用户:𝄞}#cachesync-v", true},
	}
	for _, c := range cases {
		got, ok := VersionKey(c.key)
		if got != c.want || ok != c.ok {
			t.Errorf("VersionKey(%q) = %q, %v; want %q, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

// TestWriteThroughNeverRegresses sends sets out of order, as a replay or a
// redelivery would, through the deleter's real script on a real Redis.
func TestWriteThroughNeverRegresses(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: 50 * time.Millisecond}, acks)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	v := func(pos uint32) event.Version { return event.Version{File: 3, Pos: pos, Seq: 1} }
	send := func(seq uint64, sets ...event.Set) {
		t.Helper()
		if err := d.Send(ctx, &event.Batch{Seq: seq, Sets: sets, CommitTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	const val = "{\"name\":\"𝄞 é\"}"
	send(1, event.Set{Key: "p:1", Version: v(200), JSON: []byte(val)},
		event.Set{Key: "h:1", Version: v(200), Fields: []string{"name", "日本", "bin", "AP8="}, TTL: time.Hour})
	send(2, event.Set{Key: "p:1", Version: v(100), JSON: []byte(`{"name":"old"}`)}, // a replayed older change
		event.Set{Key: "h:1", Version: v(150), Fields: []string{"name", "old"}})
	send(3, event.Set{Key: "gone:1", Version: v(300), Delete: true}, // a DELETE, then its row's older INSERT replayed
		event.Set{Key: "gone:1", Version: v(250), JSON: []byte(`{"resurrected":"1"}`)})
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "p:1").Val(); got != val {
		t.Errorf("p:1 = %q, want the newer %q", got, val)
	}
	if got := c.HGetAll(ctx, "h:1").Val(); !reflect.DeepEqual(got, map[string]string{"name": "日本", "bin": "AP8="}) {
		t.Errorf("h:1 = %v", got)
	}
	if ttl := c.PTTL(ctx, "h:1").Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("h:1 ttl = %v, want about 1h", ttl)
	}
	if n := c.Exists(ctx, "gone:1").Val(); n != 0 {
		t.Errorf("a replayed older row resurrected a deleted key")
	}
	if got := c.Get(ctx, "{gone:1}#cachesync-v").Val(); got != v(300).String() {
		t.Errorf("tombstone version = %q, want %q", got, v(300))
	}
	if acks.count() != 3 {
		t.Errorf("acks = %d, want 3", acks.count())
	}
	// Equal version rewrites (a redelivery), and SCRIPT FLUSH is survived.
	c.ScriptFlush(ctx)
	c.Set(ctx, "p:1", "stale fill", 0)
	d2, _ := newTestDeleter(t, r.Addr, DeleterConfig{}, acks)
	d2.wtLoaded.Store(true) // as if loaded before the flush
	go func() { done <- d2.Run(ctx) }()
	if err := d2.Send(ctx, &event.Batch{Seq: 4, Sets: []event.Set{{Key: "p:1", Version: v(200), JSON: []byte(val)}}}); err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "p:1").Val(); got != val {
		t.Errorf("after a redelivery p:1 = %q, want %q", got, val)
	}
}

func TestVersionOrder(t *testing.T) {
	a, _ := event.VersionAt(event.Position{File: "mysql-bin.000009", Pos: 4000000000}, 5)
	b, _ := event.VersionAt(event.Position{File: "mysql-bin.000010", Pos: 4}, 1)
	if a.Compare(b) >= 0 || a.String() >= b.String() {
		t.Errorf("%v should be older than %v", a, b)
	}
	if _, ok := event.VersionAt(event.Position{File: "nonumber"}, 1); ok {
		t.Error("a file without an index has no version")
	}
}
