package checkpoint

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

func TestKeysFor(t *testing.T) {
	for _, c := range []struct{ key, checkpoint, lease string }{
		{"cachesync:checkpoint", "{cachesync:checkpoint}", "{cachesync:checkpoint}:lease"},
		{"{shop}:cp", "{shop}:cp", "{shop}:cp:lease"},
	} {
		k := KeysFor(c.key)
		if k.Checkpoint != c.checkpoint || k.Lease != c.lease {
			t.Errorf("KeysFor(%q) = %+v", c.key, k)
		}
	}
}

// The lease goes to one instance at a time with a growing fencing token, and
// only the current holder's saves land: an old leader whose lease expired
// and was taken gets ErrNotLeader and the checkpoint keeps the new one's.
func TestRedisStoreFencing(t *testing.T) {
	a, b, sa, sb := twoInstances(t)
	ctx := context.Background()

	if _, ok, err := sa.Load(ctx); ok || err != nil {
		t.Fatalf("empty store: ok %v err %v", ok, err)
	}
	if err := sb.Save(ctx, event.Position{File: "f", Pos: 1}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("save without the lease: %v, want ErrNotLeader", err)
	}
	if got, err := a.TryAcquire(ctx); !got || err != nil {
		t.Fatalf("a acquire: %v %v", got, err)
	}
	if got, _ := b.TryAcquire(ctx); got {
		t.Fatal("b acquired a held lease")
	}
	if err := sa.Save(ctx, event.Position{File: "f", Pos: 4}); err != nil {
		t.Fatal(err)
	}
	// a is paused past its lease; b takes over.
	time.Sleep(leaseTTL + 100*time.Millisecond)
	if got, err := b.TryAcquire(ctx); !got || err != nil {
		t.Fatalf("b acquire after expiry: %v %v", got, err)
	}
	if b.Token() <= 1 {
		t.Errorf("b's fencing token %d is not above a's", b.Token())
	}
	if err := sb.Save(ctx, event.Position{File: "f", Pos: 8}); err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, event.Position{File: "f", Pos: 99}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("old leader's save: %v, want ErrNotLeader", err)
	}
	if held, err := a.Renew(ctx); held || err != nil {
		t.Errorf("old leader renewed a lease it lost: %v %v", held, err)
	}
	pos, ok, err := sa.Load(ctx)
	if err != nil || !ok || pos.Pos != 8 {
		t.Fatalf("checkpoint = %v %v %v, want the new leader's f:8", pos, ok, err)
	}
	if held, err := b.Renew(ctx); !held || err != nil {
		t.Errorf("leader cannot renew: %v %v", held, err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.TryAcquire(ctx); !got {
		t.Error("a released lease was not free")
	}
}

func TestRedisStoreCorrupt(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	keys := KeysFor("cp")
	rdb.Set(context.Background(), keys.Checkpoint, "not json", 0)
	s := &RedisStore{RDB: rdb, Keys: keys, Lease: NewLease(rdb, keys, time.Second)}
	if _, _, err := s.Load(context.Background()); err == nil {
		t.Fatal("a corrupt checkpoint loaded as none")
	}
}

// The schema history lives beside the shared checkpoint: the leader saves
// it, a standby cannot, and whoever leads next reads what was saved.
func TestRedisStoreSchemaHistory(t *testing.T) {
	a, b, storeA, storeB := twoInstances(t)
	ctx := context.Background()
	sa, sb := storeA.Blob("schemas"), storeB.Blob("schemas")
	if got, err := sb.Load(ctx); got != nil || err != nil {
		t.Fatalf("nothing saved: %q, %v", got, err)
	}
	if got, err := a.TryAcquire(ctx); !got || err != nil {
		t.Fatalf("a acquire: %v %v", got, err)
	}
	if err := sa.Save(ctx, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := sb.Save(ctx, []byte(`{"v":2}`)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("standby's save: %v, want ErrNotLeader", err)
	}
	time.Sleep(2 * leaseTTL) // a is paused past its lease, still holding its token
	if got, err := b.TryAcquire(ctx); !got || err != nil {
		t.Fatalf("b acquire: %v %v", got, err)
	}
	if a.Token() == 0 {
		t.Fatal("a forgot its token without renewing; the fencing below would not be exercised")
	}
	if err := sa.Save(ctx, []byte(`{"v":3}`)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("old leader's save: %v, want ErrNotLeader", err)
	}
	if got, err := sb.Load(ctx); string(got) != `{"v":1}` || err != nil {
		t.Fatalf("the new leader reads %q, %v; want the old leader's history", got, err)
	}
	if sb.String() != "redis key "+KeysFor("cp").Checkpoint+":schemas" {
		t.Errorf("schemas blob named %q, want beside %s", sb.String(), KeysFor("cp").Checkpoint)
	}
}

// leaseTTL is the tests' lease: short, so one can expire within a test.
const leaseTTL = 300 * time.Millisecond

// twoInstances is two instances of one config on a fresh Redis: their
// leases (not yet held) and stores of the checkpoint key "cp".
func twoInstances(t *testing.T) (a, b *Lease, sa, sb *RedisStore) {
	t.Helper()
	rdb := testenv.StartRedis(t).Client(t)
	keys := KeysFor("cp")
	a, b = NewLease(rdb, keys, leaseTTL), NewLease(rdb, keys, leaseTTL)
	return a, b, &RedisStore{RDB: rdb, Keys: keys, Lease: a}, &RedisStore{RDB: rdb, Keys: keys, Lease: b}
}
