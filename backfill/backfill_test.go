package backfill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

func TestBackfillKeysetCondition(t *testing.T) {
	got := keysetCondition([]string{"`a`", "`b`", "`c`"})
	want := "((`a` > ?) OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` > ?))"
	if got != want {
		t.Errorf("keysetCondition:\n got %s\nwant %s", got, want)
	}
	args := keysetArgs([]any{int64(1), "x", 2.5})
	if !reflect.DeepEqual(args, []any{int64(1), int64(1), "x", int64(1), "x", 2.5}) {
		t.Errorf("keysetArgs: %v", args)
	}
}

func TestBackfillBinlogTime(t *testing.T) {
	for in, want := range map[string]string{
		"10:00:00.000": "10:00:00", "10:00:00.500": "10:00:00.500", "-838:59:59": "-838:59:59",
		"00:00:00.000000": "00:00:00", "-00:00:00.000001": "-00:00:00.000001",
	} {
		if got := string(binlogTime([]byte(in))); got != want {
			t.Errorf("binlogTime(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackfillCursorRoundTrip(t *testing.T) {
	cur := []any{int64(-5), uint64(18446744073709551615), 0.1, "caf\xe9\x00"}
	got, err := decodeCursor(encodeCursor(cur))
	if err != nil || !reflect.DeepEqual(got, cur) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	if _, err := decodeCursor([]CursorValue{{Kind: "int", Value: "x"}}); err == nil {
		t.Error("a bad cursor value decoded")
	}
}

func TestBackfillStateSaveIsAtomicAndReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bf.json")
	st := State{Version: stateVersion, Table: "db.t", Cursor: encodeCursor([]any{int64(7)}), Rows: 3}
	if err := saveState(path, st); err != nil {
		t.Fatal(err)
	}
	got, ok, err := loadState(path)
	if err != nil || !ok || got.Rows != 3 || got.Table != "db.t" {
		t.Fatalf("loadState: %+v %v %v", got, ok, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadState(path); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a corrupt state file: %v", err)
	}
}

func TestBackfillChunkAcksFinishInOrder(t *testing.T) {
	a := newChunkAcks()
	s1 := a.add(1, 2)
	s2 := a.add(2, 1)
	a.add(3, 0) // a chunk without keys is finished as soon as the ones before it are
	a.Done(s2[0])
	if a.Finished() != 0 {
		t.Fatalf("chunk 2 done before chunk 1: finished = %d", a.Finished())
	}
	a.Done(s1[1])
	a.Done(s1[1]) // duplicate: ignored
	if a.Finished() != 0 {
		t.Fatalf("chunk 1 half done: finished = %d", a.Finished())
	}
	a.Done(s1[0])
	if a.Finished() != 3 {
		t.Fatalf("finished = %d, want 3", a.Finished())
	}
	select {
	case <-a.Changed():
	default:
		t.Error("no change signalled")
	}
}

// countingLimiter records what the job asks of the rate limiter.
type countingLimiter struct{ calls, tokens int }

func (c *countingLimiter) WaitN(_ context.Context, n int) error {
	c.calls++
	c.tokens += n
	return nil
}

// TestRateLimiterIsWired checks the wiring, not a duration: --rate builds
// a limiter of that rate whose burst is one chunk, and every chunk read
// asks it for its rows before they go on. The rate itself is measured
// by BenchmarkBackfillRate.
func TestBackfillRateLimiterIsWired(t *testing.T) {
	opts := Options{Chunk: 1000, Rate: 250}
	if opts.chunk() != 250 {
		t.Errorf("chunk with --rate 250 = %d, want 250 (about one query a second)", opts.chunk())
	}
	l := newLimiter(250, opts.chunk())
	if rl, ok := l.(interface {
		Limit() float64
		Burst() int
	}); ok && (rl.Burst() != 250) {
		t.Errorf("burst %d", rl.Burst())
	}
	db := testenvShared(t)
	name := db.NewDatabase(t)
	db.Exec(t, "CREATE TABLE `"+name+"`.r (id INT PRIMARY KEY)")
	db.Exec(t, "INSERT INTO `"+name+"`.r SELECT seq FROM `"+name+"`.seq_1_to_95")
	rules := parseRules(t, "rules:\n  - table: db.r\n    keys: [\"r:{id}\"]\n", name)
	j, err := Prepare(context.Background(), sourceOf(db), rules, Options{Table: name + ".r", Chunk: 10, DryRun: true},
		zaptest.NewLogger(t), metrics.New(nil), retry.Backoff{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	lim := &countingLimiter{}
	j.Limiter = lim
	if err := j.Run(context.Background(), &collector{acker: j.Acker()}); err != nil {
		t.Fatal(err)
	}
	if lim.calls != 10 || lim.tokens != 95 {
		t.Errorf("limiter asked %d times for %d rows; want 10 times (once per chunk read, the last one partial) for 95", lim.calls, lim.tokens)
	}
}

// TestPaginationVisitsEveryRowOnce pages with tiny chunks through primary
// keys whose order is easy to get wrong: a case-insensitive collation, a
// latin1 column, raw bytes including 0x00 and 0xff, ENUM (which sorts by
// member number), DATETIME(3), DECIMAL and negative integers.
func TestBackfillPaginationVisitsEveryRowOnce(t *testing.T) {
	db := testenvShared(t)
	name := db.NewDatabase(t)
	runSQL(t, db, name, `CREATE TABLE p (
  s VARCHAR(10) COLLATE utf8mb4_general_ci, l VARCHAR(10) CHARACTER SET latin1, b VARBINARY(4),
  e ENUM('zz', 'aa', 'mm'), d DATETIME(3), n DECIMAL(6,2), i INT, id INT NOT NULL UNIQUE,
  PRIMARY KEY (s, l, b, e, d, n, i));
INSERT INTO p SELECT
  ELT(1 + seq % 3, 'a', 'B', 'c'), ELT(1 + seq % 2, 'é', 'e'), UNHEX(ELT(1 + seq % 3, '00', 'FF', '7F00')),
  1 + seq % 3, TIMESTAMPADD(MICROSECOND, (seq % 2) * 500000, '2026-11-26 10:00:00'), (seq % 5) - 2.5, CAST(seq AS SIGNED) - 100, seq
  FROM seq_1_to_300`)
	rules := parseRules(t, "rules:\n  - table: db.p\n    keys: [\"p:{id}\"]\n", name)
	var want []string
	for i := 1; i <= 300; i++ {
		want = append(want, fmt.Sprintf("p:%d", i))
	}
	for _, chunk := range []int{1, 7, 1000} {
		// Bounded: an off-by-one that re-reads a chunk's last row ends
		// with an error here instead of running forever.
		got, st := backfillKeysAtMost(t, db, rules, Options{Table: name + ".p", Chunk: chunk}, 300)
		if st.RowsRead != 300 {
			t.Errorf("chunk %d: read %d rows, want 300", chunk, st.RowsRead)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("chunk %d: %d keys, want the 300 distinct ones", chunk, len(got))
		}
	}
}

// TestResumeRules: an unfinished state is never overwritten by accident,
// and --resume only continues a backfill of the same table and --where.
func TestBackfillResumeRules(t *testing.T) {
	db := testenvShared(t)
	name := db.NewDatabase(t)
	db.Exec(t, "CREATE TABLE `"+name+"`.r (id INT PRIMARY KEY)")
	rules := parseRules(t, "rules:\n  - table: db.r\n    keys: [\"r:{id}\"]\n", name)
	path := filepath.Join(t.TempDir(), "state.json")
	prepare := func(o Options) error {
		o.StatePath = path
		j, err := Prepare(context.Background(), sourceOf(db), rules, o, zaptest.NewLogger(t), metrics.New(nil), retry.Backoff{})
		if err == nil {
			j.Close()
		}
		return err
	}
	table := name + ".r"
	if err := prepare(Options{Table: table, Resume: true}); err == nil || !strings.Contains(err.Error(), "no state file") {
		t.Errorf("--resume without a state file: %v", err)
	}
	st := State{Version: stateVersion, Table: table, Rows: 5, UpdatedAt: time.Now().String()}
	if err := saveState(path, st); err != nil {
		t.Fatal(err)
	}
	if err := prepare(Options{Table: table}); err == nil || !strings.Contains(err.Error(), "pass --resume") {
		t.Errorf("unfinished state without --resume: %v", err)
	}
	if err := prepare(Options{Table: table, Where: "id > 3", Resume: true}); err == nil || !strings.Contains(err.Error(), "belongs to a backfill") {
		t.Errorf("--resume with another --where: %v", err)
	}
	if err := prepare(Options{Table: table, Resume: true}); err != nil {
		t.Errorf("--resume of a matching state: %v", err)
	}
	st.Done = true
	if err := saveState(path, st); err != nil {
		t.Fatal(err)
	}
	if err := prepare(Options{Table: table, Resume: true}); err == nil || !strings.Contains(err.Error(), "already finished") {
		t.Errorf("--resume of a finished backfill: %v", err)
	}
	if err := prepare(Options{Table: table}); err != nil {
		t.Errorf("a new backfill after a finished one: %v", err)
	}
}
