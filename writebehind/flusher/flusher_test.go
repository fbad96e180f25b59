package flusher

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/writebehind"
)

// TestWriteBehindRandomConcurrent: 10,000 random Set/IncrBy/Delete calls over
// 500 rows from 8 goroutines, flushed while they run; afterwards every row
// in MySQL equals the cache, in far fewer transactions than writes.
func TestWriteBehindRandomConcurrent(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	const rows, workers, calls = 500, 8, 10000
	e.seed(rows)
	fl := run(t, e.flusher("f1", nil))
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for range calls / workers {
				if err := e.randomCall(rnd, rows); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	wg.Wait()
	e.waitDrained(60 * time.Second)
	if err := fl.stop(); err != nil {
		t.Fatal(err)
	}
	inMySQL := e.mysqlQty()
	for id := range rows {
		cached, err := e.rdb.Get(context.Background(), key(id)).Result()
		q, inDB := inMySQL[id]
		switch {
		case err != nil && inDB:
			t.Errorf("row %d: not cached (deleted) but MySQL has qty %d", id, q)
		case err == nil && !inDB:
			t.Errorf("row %d: cached %s but not in MySQL", id, cached)
		case err == nil && cached != strconv.FormatInt(q, 10):
			t.Errorf("row %d: cache %s, MySQL %d", id, cached, q)
		}
	}
	total := float64(writes.Load() + rows)
	batches := metricValue(t, e.m, "batches")
	t.Logf("%v writes flushed in %v transactions", total, batches)
	if batches > total/10 {
		t.Errorf("%v transactions for %v writes: batching does not work", batches, total)
	}
	if got := metricValue(t, e.m, "entries"); got != total {
		t.Errorf("entries applied = %v, want %v", got, total)
	}
}

func (e *wbEnv) randomCall(rnd *rand.Rand, rows int) error {
	ctx := context.Background()
	id := rnd.IntN(rows)
	switch p := rnd.IntN(10); {
	case p < 5:
		_, err := e.client.IncrBy(ctx, key(id), int64(rnd.IntN(21)-10), -1_000_000, e.row(id), "qty")
		if !errors.Is(err, writebehind.ErrNotCached) {
			return err
		}
		fallthrough // deleted: write it again
	case p < 9:
		q := rnd.IntN(1000)
		_, err := e.client.Set(ctx, key(id), strconv.Itoa(q), 0, e.row(id), map[string]any{"qty": q, "name": "s" + strconv.Itoa(q)})
		return err
	default:
		_, err := e.client.Delete(ctx, key(id), e.row(id))
		return err
	}
}

// queueIncrements queues n increments of +1 over rows [0, rows), round robin,
// and returns each row's expected final qty.
func (e *wbEnv) queueIncrements(rows, n int) map[int]int64 {
	e.t.Helper()
	want := map[int]int64{}
	for i := range n {
		id := i % rows
		r, err := e.client.IncrBy(context.Background(), key(id), 1, 0, e.row(id), "qty")
		if err != nil || !r.Applied {
			e.t.Fatalf("incr %d: %v %+v", i, err, r)
		}
		want[id] = r.Value
	}
	return want
}

// TestWriteBehindCrash kills a flusher right after COMMIT (before XACK) and
// in the middle of a batch (statements run, no COMMIT); a second flusher
// takes over. No write is lost and none applied twice: each counter ends at
// its exact total, MySQL never saw a counter value twice (audit trigger), and
// the flusher's own accounting adds up.
func TestWriteBehindCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(*Flusher, func(int) error)
	}{
		{"after commit", func(f *Flusher, h func(int) error) { f.hooks.afterCommit = h }},
		{"mid batch", func(f *Flusher, h func(int) error) { f.hooks.beforeCommit = h }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWBEnv(t, testenv.SharedMariaDB(t))
			e.audit()
			const rows, incrs = 20, 3000
			e.seed(rows)
			want := e.queueIncrements(rows, incrs)
			f1 := e.flusher("doomed", func(c *Config) { c.Batch = 500 })
			var batches atomic.Int32
			var crashedWith int
			tc.crash(f1, func(n int) error {
				if batches.Add(1) == 3 {
					crashedWith = n
					return errTestCrash
				}
				return nil
			})
			if err := run(t, f1).wait(); !errors.Is(err, errTestCrash) {
				t.Fatalf("first flusher ended with %v, want the simulated crash", err)
			}
			run(t, e.flusher("heir", nil))
			e.waitDrained(60 * time.Second)
			got := e.mysqlQty()
			for id, q := range want {
				if got[id] != q {
					t.Errorf("row %d: MySQL qty %d, want %d", id, got[id], q)
				}
			}
			e.checkAuditIncreasing()
			entries, skipped := metricValue(t, e.m, "entries"), metricValue(t, e.m, "skipped")
			wantSkipped := 0.0
			if tc.name == "after commit" {
				wantSkipped = float64(crashedWith)
			}
			// The crashed process never counted the batch it committed; its
			// heir acknowledged that batch without applying it.
			if entries != rows+incrs-wantSkipped || skipped != wantSkipped {
				t.Errorf("entries applied %v (want %v), skipped as already applied %v (want %v)", entries, rows+incrs-wantSkipped, skipped, wantSkipped)
			}
		})
	}
}

// TestWriteBehindFlashSale: 1,000 in stock, 5,000 concurrent buyers through
// IncrBy(-1, floor 0): exactly 1,000 succeed, Redis and MySQL end at 0.
func TestWriteBehindFlashSale(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	e.audit()
	ctx := context.Background()
	if _, err := e.client.Set(ctx, key(1), "1000", 0, e.row(1), map[string]any{"qty": 1000, "name": "sale"}); err != nil {
		t.Fatal(err)
	}
	run(t, e.flusher("f1", nil))
	var sold, refused atomic.Int64
	var wg sync.WaitGroup
	for range 5000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.client.IncrBy(ctx, key(1), -1, 0, e.row(1), "qty")
			switch {
			case err != nil:
				t.Error(err)
			case r.Applied:
				sold.Add(1)
			default:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	e.waitDrained(60 * time.Second)
	if sold.Load() != 1000 || refused.Load() != 4000 {
		t.Errorf("sold %d, refused %d; want 1000 and 4000", sold.Load(), refused.Load())
	}
	if v, _ := e.rdb.Get(ctx, key(1)).Result(); v != "0" {
		t.Errorf("Redis stock %q, want 0", v)
	}
	if q := e.mysqlQty()[1]; q != 0 {
		t.Errorf("MySQL stock %d, want 0", q)
	}
	e.checkAuditIncreasingOrDecreasing()
}

// checkAuditIncreasingOrDecreasing: for the flash sale, every value MySQL
// was given must be below the previous one (never a stale one again).
func (e *wbEnv) checkAuditIncreasingOrDecreasing() {
	e.t.Helper()
	r := e.db.Exec(e.t, "SELECT qty FROM `"+e.name+"`.audit WHERE item = 1 ORDER BY seq")
	prev := int64(1 << 62)
	for i := range r.RowNumber() {
		q, _ := r.GetInt(i, 0)
		if q >= prev {
			e.t.Fatalf("stock was set to %d after %d", q, prev)
		}
		prev = q
	}
}

// TestWriteBehindPoison: entries that can never apply go to the dead-letter
// stream with their reason; the rest of the batch is applied.
func TestWriteBehindPoison(t *testing.T) {
	e := newWBEnv(t, testenv.SharedMariaDB(t))
	ctx := context.Background()
	set := func(id int, cols map[string]any) {
		if _, err := e.client.Set(ctx, key(id), "x", 0, e.row(id), cols); err != nil {
			t.Fatal(err)
		}
	}
	set(1, map[string]any{"qty": 1})
	set(2, map[string]any{"colour": "red"})                                                                                      // unknown column
	set(3, map[string]any{"qty": "many"})                                                                                        // wrong type
	set(4, map[string]any{"name": strings.Repeat("x", 40)})                                                                      // too long
	e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "wb:items", Values: []any{"v", "1", "op", "set", "table", e.table(), "pk", "{bad"}}) // malformed
	if _, err := e.client.Set(ctx, "k", "x", 0, writebehind.Row{Table: e.name + ".other", PK: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err) // a table the rule does not cover
	}
	if _, err := e.client.Set(ctx, "k", "x", 0, writebehind.Row{Table: e.table(), PK: map[string]any{"sku": 1}}, nil); err != nil {
		t.Fatal(err) // not the primary key
	}
	set(5, map[string]any{"qty": 5})
	run(t, e.flusher("f1", nil))
	e.waitDrained(30 * time.Second)
	if got := e.mysqlQty(); len(got) != 2 || got[1] != 1 || got[5] != 5 {
		t.Errorf("MySQL rows %v, want only 1→1 and 5→5", got)
	}
	dead, err := e.rdb.XRange(ctx, "wb:items:dead", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{`unknown column "colour"`, "MySQL refused the row", "MySQL refused the row", "field pk must be", "is not the table of this stream's rule", `unknown column "sku"`}
	if len(dead) != len(wants) {
		t.Fatalf("%d dead letters, want %d: %v", len(dead), len(wants), dead)
	}
	for i, d := range dead {
		reason, _ := d.Values["reason"].(string)
		if !strings.Contains(reason, wants[i]) || d.Values["id"] == "" || d.Values["entry.op"] != "set" {
			t.Errorf("dead letter %d: %v, want a reason with %q, the entry and its id", i, d.Values, wants[i])
		}
	}
	if metricValue(t, e.m, "dead") != float64(len(wants)) {
		t.Errorf("dead-lettered metric %v", metricValue(t, e.m, "dead"))
	}
}

// TestWriteBehindMySQLDown stops MariaDB for 10 s while the application
// keeps writing; after it returns, nothing is lost.
func TestWriteBehindMySQLDown(t *testing.T) {
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newWBEnv(t, db)
	e.audit()
	const rows = 10
	e.seed(rows)
	run(t, e.flusher("f1", nil))
	e.waitDrained(30 * time.Second)
	want := map[int]int64{}
	incr := func(n int) {
		for i := range n {
			id := i % rows
			r, err := e.client.IncrBy(context.Background(), key(id), 1, 0, e.row(id), "qty")
			if err != nil || !r.Applied {
				t.Fatalf("incr: %v %+v", err, r)
			}
			want[id] = r.Value
		}
	}
	incr(1000)
	db.Stop(t)
	for range 10 { // ten seconds down, writes going on
		incr(200)
		time.Sleep(time.Second)
	}
	db.Start(t)
	incr(1000)
	e.waitDrained(60 * time.Second)
	got := e.mysqlQty()
	for id, q := range want {
		if got[id] != q {
			t.Errorf("row %d: MySQL %d, want %d", id, got[id], q)
		}
	}
	e.checkAuditIncreasing()
}
