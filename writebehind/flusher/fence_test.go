package flusher

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cachesync/cachesync/internal/testenv"
)

// gate holds whoever calls hold or wait once armed, until released.
type gate struct {
	armed    atomic.Bool
	once     sync.Once
	held     chan struct{} // closed when the first hold blocks
	release  chan struct{}
	released sync.Once
}

func newGate() *gate { return &gate{held: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) open() { g.released.Do(func() { close(g.release) }) }

func (g *gate) hold() {
	if g.armed.Load() {
		g.once.Do(func() { close(g.held) })
		<-g.release
	}
}

func (g *gate) wait() {
	if g.armed.Load() {
		<-g.release
	}
}

func (g *gate) waitHeld(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was never held", what)
	}
}

// waitHolder waits (bounded) until consumer holds the stream's lease.
func (e *wbEnv) waitHolder(limit time.Duration, consumer string) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if v, _ := e.rdb.Get(context.Background(), "wb:items:lease").Result(); v == consumer {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s did not take the lease within %v", consumer, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *wbEnv) queue(from, to int) {
	e.t.Helper()
	for id := from; id <= to; id++ {
		if _, err := e.client.Set(context.Background(), key(id), "x", 0, e.row(id), map[string]any{"qty": id}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestWriteBehindStaleFlusherFenced: flusher A is paused (its read and its
// lease renewal held) until its lease expires and B takes over. When A
// wakes, its lease keeper stays held until A has tried its transaction. B reads
// entries 6–10 and is held before its transaction; 11–15 are queued. A
// wakes, reads 11–15 as if it still held the lease and tries to commit
// them; then B goes on. Every entry's row must be in MySQL: A's commit must
// not make B acknowledge 6–10 as already applied.
func TestWriteBehindStaleFlusherFenced(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	a := e.flusher("A", nil)
	aGate, aRenew := newGate(), newGate()
	a.hooks.beforeRead, a.hooks.beforeRenew = aGate.hold, aRenew.wait
	aDone := make(chan error, 100)
	a.hooks.afterTransact = func(err error) {
		if aGate.armed.Load() {
			aDone <- err
		}
	}
	run(t, a)
	t.Cleanup(aGate.open) // runs before the flusher is stopped
	t.Cleanup(aRenew.open)
	e.waitHolder(10*time.Second, "A")
	e.queue(1, 5)
	e.waitDrained(30 * time.Second)

	aGate.armed.Store(true)
	aRenew.armed.Store(true)
	aGate.waitHeld(t, "flusher A's read")
	b := e.flusher("B", nil)
	bGate := newGate()
	b.hooks.beforeTransact = bGate.hold
	bGate.armed.Store(true)
	run(t, b)
	t.Cleanup(bGate.open)
	e.waitHolder(30*time.Second, "B")
	e.queue(6, 10)
	bGate.waitHeld(t, "flusher B's transaction")
	e.queue(11, 15)
	aGate.open()
	select {
	case err := <-aDone:
		// A adopts B's pending 6–10 before its transaction, so without the
		// fence its commit would apply them and every row would still
		// arrive: only the refusal itself shows the fence held.
		if !errors.Is(err, errFenced) {
			t.Errorf("stale flusher A's transaction: %v; want it refused as fenced (B's lease token is stored)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flusher A never tried its transaction")
	}
	aRenew.open() // A's lease keeper wakes only now: the worst order
	bGate.open()
	e.waitDrained(30 * time.Second)
	got := e.mysqlQty()
	for id := 1; id <= 15; id++ {
		if q, ok := got[id]; !ok || q != int64(id) {
			t.Errorf("row %d: in MySQL %v (qty %d); want qty %d", id, ok, q, id)
		}
	}
}

// TestWriteBehindLeaseMargin: a flusher that cannot renew its lease stands
// down while the lease key still has time to live, so no standby can have
// taken over yet.
func TestWriteBehindLeaseMargin(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	f := e.flusher("A", func(c *Config) { c.LeaseTTL = 3 * time.Second })
	var failing atomic.Bool
	left := make(chan time.Duration, 1)
	f.hooks.failRenew = failing.Load
	f.hooks.standDown = func() {
		ttl, err := e.rdb.PTTL(context.Background(), "wb:items:lease").Result()
		if err != nil {
			t.Error(err)
		}
		left <- ttl
	}
	run(t, f)
	e.waitHolder(10*time.Second, "A")
	failing.Store(true)
	select {
	case ttl := <-left:
		if ttl <= 0 {
			t.Fatalf("the flusher stood down when its lease had %v left (gone): a standby may have been writing already", ttl)
		}
		if n := testutil.ToFloat64(f.m.redisErrs); n < 1 {
			t.Errorf("%v Redis errors counted for the failed lease renewals, want at least 1", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the flusher never stood down although it could not renew its lease")
	}
}

// TestWriteBehindOffsetsMigration: an offsets table made by an older
// cachesync (no lease_token) gets the column, and flushing goes on from its
// stored ID.
func TestWriteBehindOffsetsMigration(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	e.exec("CREATE TABLE DB.cachesync_wb_offsets (stream VARBINARY(512) NOT NULL PRIMARY KEY, last_id VARCHAR(64) NOT NULL, " +
		"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB")
	e.exec("INSERT INTO DB.cachesync_wb_offsets (stream, last_id) VALUES ('wb:items', '1-0')")
	e.queue(1, 3)
	e.flushOnce()
	if got := e.mysqlQty(); len(got) != 3 {
		t.Fatalf("rows %v, want 1..3", got)
	}
	r := e.db.Exec(t, "SELECT lease_token FROM `"+e.name+"`.cachesync_wb_offsets WHERE stream = 'wb:items'")
	if tok, _ := r.GetUint(0, 0); tok == 0 {
		t.Fatalf("lease_token %d after a flush, want the flusher's token", tok)
	}
}

// TestWriteBehindTokenCounterLost: the Redis counter of lease tokens is
// gone (a flushed or failed-over Redis) while MySQL holds a large token; the
// next flusher must not be fenced out forever by tokens counting up from 1.
func TestWriteBehindTokenCounterLost(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	e.queue(1, 1)
	e.flushOnce()
	e.exec("UPDATE DB.cachesync_wb_offsets SET lease_token = 1000000000")
	if err := e.rdb.Del(context.Background(), "wb:items:lease:token").Err(); err != nil {
		t.Fatal(err)
	}
	e.queue(2, 3)
	e.flushOnce()
	if got := e.mysqlQty(); len(got) != 3 {
		t.Fatalf("rows %v, want 1..3", got)
	}
}
