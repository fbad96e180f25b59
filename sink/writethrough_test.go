package sink

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/redis/go-redis/v9"
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

// TestWriteThroughScriptOneCall runs the script with several pairs in one
// call, as queueSets sends them (the short form when all are JSON values):
// the versions are read once (MGET) and JSON values without expiry are
// written in one MSET, so the order of writes to one key and a version
// written earlier in the same call must still hold.
func TestWriteThroughScriptOneCall(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	ctx := context.Background()
	v := func(pos uint32) event.Version { return event.Version{File: 7, Pos: pos, Seq: 1} }
	type want struct {
		kind  string // "string", "hash" or "none"
		value string // the string, or the hash as fmt %v of its map
		ttl   bool
		ver   event.Version
	}
	cases := []struct {
		name    string
		before  func()
		sets    []event.Set
		refused int64
		want    map[string]want
	}{
		{
			name: "same key newer then older",
			sets: []event.Set{
				{Key: "k:1", Version: v(20), JSON: []byte(`{"v":"new ✓"}`)},
				{Key: "k:1", Version: v(10), JSON: []byte(`{"v":"old"}`)},
			},
			refused: 1,
			want:    map[string]want{"k:1": {kind: "string", value: `{"v":"new ✓"}`, ver: v(20)}},
		},
		{
			name: "same key older then newer",
			sets: []event.Set{
				{Key: "k:2", Version: v(10), JSON: []byte(`{"v":"old"}`)},
				{Key: "k:2", Version: v(20), JSON: []byte(`{"v":"𝄞"}`)},
			},
			want: map[string]want{"k:2": {kind: "string", value: `{"v":"𝄞"}`, ver: v(20)}},
		},
		{
			name: "a pending json write, then the row deleted in the same call",
			sets: []event.Set{
				{Key: "k:3", Version: v(10), JSON: []byte(`{"v":"a"}`)},
				{Key: "k:3", Version: v(20), Delete: true},
				{Key: "k:3", Version: v(15), JSON: []byte(`{"v":"resurrected"}`)},
			},
			refused: 1,
			want:    map[string]want{"k:3": {kind: "none", ver: v(20)}},
		},
		{
			name: "json, hash, json with expiry, json again: each key ends as its last write",
			sets: []event.Set{
				{Key: "k:4", Version: v(10), JSON: []byte(`{"v":"j"}`)},
				{Key: "k:5", Version: v(10), Fields: []string{"f", "日本"}},
				{Key: "k:4", Version: v(11), Fields: []string{"f", "h"}},
				{Key: "k:6", Version: v(10), JSON: []byte(`{"v":"ttl"}`), TTL: time.Hour},
				{Key: "k:5", Version: v(12), JSON: []byte(`{"v":"j5"}`)},
			},
			want: map[string]want{
				"k:4": {kind: "hash", value: "map[f:h]", ver: v(11)},
				"k:5": {kind: "string", value: `{"v":"j5"}`, ver: v(12)},
				"k:6": {kind: "string", value: `{"v":"ttl"}`, ttl: true, ver: v(10)},
			},
		},
		{
			name: "json only (the short form): with and without expiry on one key",
			sets: []event.Set{
				{Key: "k:9", Version: v(10), JSON: []byte(`{"v":"a"}`)},
				{Key: "k:9", Version: v(11), JSON: []byte(`{"v":"b"}`), TTL: time.Hour},
				{Key: "k:10", Version: v(11), JSON: []byte(`{"v":"c"}`), TTL: time.Hour},
				{Key: "k:10", Version: v(12), JSON: []byte(`{"v":"d"}`)},
				{Key: "k:10", Version: v(11), JSON: []byte(`{"v":"late"}`), TTL: time.Hour},
			},
			refused: 1,
			want: map[string]want{
				"k:9":  {kind: "string", value: `{"v":"b"}`, ttl: true, ver: v(11)},
				"k:10": {kind: "string", value: `{"v":"d"}`, ver: v(12)},
			},
		},
		{
			name: "stored newer versions refuse, an equal one rewrites, an expiry is cleared",
			before: func() {
				c.Set(ctx, "k:7", "newer", 0)
				c.Set(ctx, "{k:7}#cachesync-v", v(50).String(), 0)
				c.Set(ctx, "k:8", "stale fill", time.Hour)
				c.Set(ctx, "{k:8}#cachesync-v", v(30).String(), time.Hour)
			},
			sets: []event.Set{
				{Key: "k:7", Version: v(40), JSON: []byte(`{"v":"old"}`)},
				{Key: "k:8", Version: v(30), JSON: []byte(`{"v":"row"}`)},
			},
			refused: 1,
			want: map[string]want{
				"k:7": {kind: "string", value: "newer", ver: v(50)},
				"k:8": {kind: "string", value: `{"v":"row"}`, ver: v(30)},
			},
		},
	}
	s := redis.NewScript(WriteThroughScript())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			var (
				keys []string
				sets []*event.Set
			)
			for i := range tc.sets {
				vk, _ := VersionKey(tc.sets[i].Key)
				keys = append(keys, tc.sets[i].Key, vk)
				sets = append(sets, &tc.sets[i])
			}
			refused, err := s.Run(ctx, c, keys, scriptArgs(nil, sets)...).Int64()
			if err != nil {
				t.Fatal(err)
			}
			if refused != tc.refused {
				t.Errorf("refused %d, want %d", refused, tc.refused)
			}
			for key, w := range tc.want {
				var got want
				switch typ := c.Type(ctx, key).Val(); typ {
				case "string":
					got.kind, got.value = typ, c.Get(ctx, key).Val()
				case "hash":
					got.kind, got.value = typ, fmt.Sprint(c.HGetAll(ctx, key).Val())
				default:
					got.kind = typ
				}
				got.ttl = c.PTTL(ctx, key).Val() > 0
				vk, _ := VersionKey(key)
				got.ver = w.ver
				if s := c.Get(ctx, vk).Val(); s != w.ver.String() {
					t.Errorf("%s: version %q, want %q", key, s, w.ver.String())
				}
				if got != w {
					t.Errorf("%s = %+v, want %+v", key, got, w)
				}
			}
		})
	}
}
