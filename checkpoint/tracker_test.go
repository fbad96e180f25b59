package checkpoint

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/event"
)

func pos(n uint32) event.Position { return event.Position{File: "bin.000001", Pos: n} }

func TestTrackerWaitsForEveryEarlierBatch(t *testing.T) {
	tr := NewTracker(event.Position{})
	a, b := tr.Next(), tr.Next()
	tr.Commit(pos(100)) // txn 1 = a, b
	c := tr.Next()
	tr.Commit(pos(200)) // txn 2 = c

	if _, ok := tr.Safe(); ok {
		t.Fatal("nothing done yet, but a position is safe")
	}
	tr.Done(c) // later txn finishes first: must not move past txn 1
	if _, ok := tr.Safe(); ok {
		t.Fatal("txn 2 done before txn 1 made a position safe")
	}
	tr.Done(a)
	if _, ok := tr.Safe(); ok {
		t.Fatal("txn 1 half done made it safe")
	}
	tr.Done(b)
	if got, _ := tr.Safe(); got != pos(200) {
		t.Fatalf("safe = %v, want %v", got, pos(200))
	}
	if tr.InFlight() != 0 {
		t.Fatalf("in flight = %d", tr.InFlight())
	}
}

func TestTrackerQuietTransactionsAdvance(t *testing.T) {
	tr := NewTracker(pos(4))
	for i := uint32(1); i <= 1000; i++ {
		tr.Commit(pos(4 + i)) // transactions touching no mapped table
	}
	if got, _ := tr.Safe(); got != pos(1004) {
		t.Fatalf("safe = %v", got)
	}
	if len(tr.commits) != 0 {
		t.Fatalf("%d boundaries kept", len(tr.commits))
	}
}

func TestTrackerBoundedWhileBlocked(t *testing.T) {
	tr := NewTracker(event.Position{})
	s := tr.Next()
	for i := uint32(1); i <= 10000; i++ {
		tr.Commit(pos(i)) // sink stuck on s; quiet transactions keep coming
	}
	if len(tr.commits) != 1 {
		t.Fatalf("boundaries not coalesced: %d", len(tr.commits))
	}
	tr.Done(s)
	if got, _ := tr.Safe(); got != pos(10000) {
		t.Fatalf("safe = %v", got)
	}
}

func TestTrackerRandomOrderNeverAhead(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tr := NewTracker(event.Position{})
	type txn struct {
		seqs []uint64
		pos  event.Position
	}
	var txns []txn
	for i := 0; i < 300; i++ {
		var x txn
		for j := 0; j < r.IntN(4); j++ {
			x.seqs = append(x.seqs, tr.Next())
		}
		x.pos = pos(uint32(i + 1))
		tr.Commit(x.pos)
		txns = append(txns, x)
	}
	var all []uint64
	for _, x := range txns {
		all = append(all, x.seqs...)
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	doneSet := map[uint64]bool{}
	for _, s := range all {
		tr.Done(s)
		tr.Done(s) // duplicate acks are harmless
		doneSet[s] = true
		safe, ok := tr.Safe()
		if !ok {
			continue
		}
		for _, x := range txns {
			if x.pos.Pos > safe.Pos {
				break
			}
			for _, q := range x.seqs {
				if !doneSet[q] {
					t.Fatalf("safe %v passes txn %v whose batch %d is not done", safe, x.pos, q)
				}
			}
		}
	}
	if got, _ := tr.Safe(); got != pos(300) {
		t.Fatalf("final safe = %v", got)
	}
}

func TestFileStoreRoundTripAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s := &FileStore{Path: filepath.Join(dir, "cs.pos")}
	ctx := context.Background()
	if _, ok, err := s.Load(ctx); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	want := event.Position{File: "mysql-bin.000007", Pos: 1234, GTID: "0-1-99"}
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx)
	if err != nil || !ok || got != want {
		t.Fatalf("got %v ok=%v err=%v", got, ok, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	for _, bad := range []string{"", "{", `{"version":1}`, `{"version":2,"file":"x","pos":4}`} {
		os.WriteFile(s.Path, []byte(bad), 0o600)
		if _, _, err := s.Load(ctx); err == nil || !strings.Contains(err.Error(), s.Path) {
			t.Errorf("content %q: err = %v, want an error naming the file", bad, err)
		}
	}
}
