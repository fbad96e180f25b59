package sink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/writebehind"
)

var wbRow = writebehind.Row{Table: "shop.items", PK: map[string]any{"id": 1}}

// Guarded keys against real Redis: kept only while they hold exactly their
// stamped value, in both phases; plain keys of the same batch deleted; the
// script reloaded after Redis lost it.
func TestDeleterGuarded(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	acks := &ackLog{}
	d, _ := newTestDeleter(t, r.Addr, DeleterConfig{SecondDelay: 300 * time.Millisecond}, acks)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wb := writebehind.New(c, "wb:items")
	for _, k := range []string{"wb:kept", "wb:changed", "wb:plain", "wb:second"} {
		if _, err := wb.Set(ctx, k, "5", 0, wbRow, map[string]any{"qty": 5}); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "wb:changed", "4", 0)   // a reader's SET of an older row
	c.Set(ctx, "wb:unstamped", "5", 0) // written by old scripts: no stamp
	b := &event.Batch{Seq: 1, CommitTime: time.Now()}
	b.AddKey("other:1", false)
	for _, k := range []string{"wb:kept", "wb:changed", "wb:unstamped", "wb:second"} {
		b.AddKey(k, true)
	}
	b.AddKey("wb:plain", false) // stamped, but not guarded: a plain delete
	if err := d.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	first := func(result string) float64 {
		return testutil.ToFloat64(d.m.WBGuardedDeletes.WithLabelValues("first", result))
	}
	waitFor(t, 10*time.Second, func() bool { return first("kept")+first("deleted") == 4 })
	if first("kept") != 2 {
		t.Errorf("first delete kept %v keys, want 2 (wb:kept, wb:second)", first("kept"))
	}
	// Between the deletes a reader SETs an older value: the second catches it.
	c.Set(ctx, "wb:second", "4", 0)
	waitFor(t, 10*time.Second, func() bool { return acks.count() == 1 })
	if v, err := c.Get(ctx, "wb:kept").Result(); err != nil || v != "5" {
		t.Errorf("wb:kept = %q (%v) after both deletes; want kept at 5", v, err)
	}
	for _, k := range []string{"wb:changed", "wb:unstamped", "wb:second", "wb:plain", "other:1", writebehind.StampKey("wb:changed")} {
		if c.Exists(ctx, k).Val() != 0 {
			t.Errorf("%s survived; want it deleted", k)
		}
	}

	// Redis lost the script (restart, SCRIPT FLUSH): loaded again, not retried forever.
	c.ScriptFlush(ctx)
	b2 := &event.Batch{Seq: 2, CommitTime: time.Now()}
	b2.AddKey("wb:kept", true)
	b2.AddKey("wb:gone", true)
	c.Set(ctx, "wb:gone", "x", 0)
	if err := d.Send(ctx, b2); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := c.Get(ctx, "wb:kept").Val(); v != "5" || c.Exists(ctx, "wb:gone").Val() != 0 {
		t.Errorf("after SCRIPT FLUSH: wb:kept = %q (want 5), wb:gone exists = %d (want 0)", v, c.Exists(ctx, "wb:gone").Val())
	}
	if n := testutil.ToFloat64(d.m.RedisErrors.WithLabelValues("first")); n != 0 {
		t.Errorf("%v failed first deletes; a lost script is reloaded within the attempt", n)
	}
}

// In a cluster the key and its stamp share a slot only through a hash tag:
// a guarded key without one is deleted plainly (no CROSSSLOT retried forever).
func TestDeleterGuardedCluster(t *testing.T) {
	c, d, _, done := runClusterDeleter(t)
	ctx := context.Background()
	b := &event.Batch{Seq: 1, CommitTime: time.Now()}
	for _, tag := range []string{"a", "b", "c", "d", "e"} { // over several slots
		wb := writebehind.New(c, "wb:{"+tag+"}")
		k := "{" + tag + "}:item:1"
		if _, err := wb.Set(ctx, k, "5", 0, wbRow, map[string]any{"qty": 5}); err != nil {
			t.Fatal(err)
		}
		b.AddKey(k, true)
	}
	c.Set(ctx, "item:untagged", "5", 0)
	c.Set(ctx, writebehind.StampKey("item:untagged"), "ac3478d69a3c81fa62e60f5c3696165a4e5e6ac4", 0) // sha1("5")
	b.AddKey("item:untagged", true)
	if err := d.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		if v := c.Get(ctx, "{"+tag+"}:item:1").Val(); v != "5" {
			t.Errorf("{%s}:item:1 = %q; want kept at 5", tag, v)
		}
	}
	if c.Exists(ctx, "item:untagged").Val() != 0 {
		t.Error("guarded key without a hash tag survived; want a plain delete")
	}
}

func TestHashTagged(t *testing.T) {
	for k, want := range map[string]bool{
		"{a}:x": true, "x:{ab}": true, "x": false, "{}x": false, "x{": false, "x}{a": false, "{}{a}": false, "x}{a}": true,
	} {
		if got := hashTagged(k); got != want {
			t.Errorf("hashTagged(%q) = %v, want %v", k, got, want)
		}
	}
}

// A Redis user that may not run scripts must not stall invalidations: the
// guarded keys are deleted plainly (safe) instead of retried forever.
func TestDeleterGuardScriptsRefused(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Do(ctx, "ACL", "SETUSER", "noscripts", "on", ">pw-1", "~*", "+@all", "-@scripting").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := writebehind.New(c, "wb:items").Set(ctx, "wb:1", "5", 0, wbRow, map[string]any{"qty": 5}); err != nil {
		t.Fatal(err)
	}
	rc := config.Default().Redis
	rc.Addrs, rc.Username, rc.Password = []string{r.Addr}, "noscripts", "pw-1"
	rdb := newRedis(t, rc)
	t.Cleanup(func() { rdb.Close() })
	acks := &ackLog{}
	d := NewDeleter(rdb, fromFile(DeleterConfig{SecondDelay: 50 * time.Millisecond}), acks, retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}, zaptest.NewLogger(t), metrics.New(nil))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	b := &event.Batch{Seq: 1, CommitTime: time.Now()}
	b.AddKey("wb:1", true)
	b.AddKey("other", false)
	if err := d.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, "wb:1").Val() != 0 || acks.count() != 1 {
		t.Fatalf("wb:1 exists = %d, acks = %d; want it deleted plainly and the batch done", c.Exists(ctx, "wb:1").Val(), acks.count())
	}
}
