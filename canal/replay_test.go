package canal

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

func TestReplayParsePoint(t *testing.T) {
	for _, c := range []struct {
		flavor, in string
		kind       pointKind
		err        string
	}{
		{"mariadb", "mysql-bin.000042:1337", pointFilePos, ""},
		{"mariadb", "0-1-123", pointGTID, ""},
		{"mariadb", "0-1-123,1-2-5", pointGTID, ""},
		{"mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42", pointGTID, ""},
		{"mysql", "binlog.000001:4", pointFilePos, ""},
		{"mariadb", "2026-11-26T10:00:00Z", pointTime, ""},
		{"mariadb", "2026-11-26T11:00:00.5+01:00", pointTime, ""},
		{"mariadb", "2026-11-26", 0, "time zone"}, // would parse as the GTID 2026-11-26
		{"mariadb", "2026-11-26T10:00:00", 0, "time zone"},
		{"mariadb", "2026-11-26 10:00:00", 0, "time zone"},
		{"mariadb", "yesterday", 0, "not a binlog position"},
		{"mariadb", "", 0, "empty"},
		{"mariadb", "binlog.000001:99999999999", 0, "not a binlog position"},
	} {
		p, err := parsePoint(c.flavor, c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parsePoint(%q): err %v, want one saying %q", c.in, err, c.err)
		case c.err == "" && (err != nil || p.kind != c.kind):
			t.Errorf("parsePoint(%q) = kind %d, %v; want kind %d", c.in, p.kind, err, c.kind)
		}
	}
	p, _ := parsePoint("mariadb", "2026-11-26T11:00:00+01:00")
	if !p.at.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v", p.at)
	}
}

func TestReplayRangeBytes(t *testing.T) {
	r := Range{
		From:  event.Position{File: "b.000001", Pos: 100},
		To:    event.Position{File: "b.000003", Pos: 50},
		files: []source.BinlogFile{{Name: "b.000001", Size: 1000}, {Name: "b.000002", Size: 500}, {Name: "b.000003", Size: 800}},
	}
	for _, c := range []struct {
		at   event.Position
		done int64
	}{
		{event.Position{}, 0},
		{event.Position{File: "b.000001", Pos: 100}, 0},
		{event.Position{File: "b.000001", Pos: 600}, 500},
		{event.Position{File: "b.000002", Pos: 4}, 904},
		{event.Position{File: "b.000003", Pos: 50}, 1450},
		{event.Position{File: "b.000004", Pos: 4}, 1450},
	} {
		done, total := r.Bytes(c.at)
		if done != c.done || total != 1450 {
			t.Errorf("Bytes(%v) = %d/%d, want %d/1450", c.at, done, total, c.done)
		}
	}
	if (Range{From: r.To, To: r.To}).Empty() != true || r.Empty() {
		t.Error("Empty")
	}
}

func TestReplayBoundaryEvents(t *testing.T) {
	for _, c := range []struct {
		ev   binlogEvent
		want bool
	}{
		{binlogEvent{typ: "Gtid", info: "BEGIN GTID 0-1-5"}, true},
		{binlogEvent{typ: "Anonymous_Gtid"}, true},
		{binlogEvent{typ: "Query", info: "BEGIN"}, true},
		{binlogEvent{typ: "Query", info: "CREATE TABLE t (id INT)"}, true},
		{binlogEvent{typ: "Query", info: "COMMIT"}, false},
		{binlogEvent{typ: "Binlog_checkpoint"}, true},
		{binlogEvent{typ: "Table_map"}, false},
		{binlogEvent{typ: "Write_rows_v1"}, false},
		{binlogEvent{typ: "Annotate_rows"}, false},
		{binlogEvent{typ: "Xid"}, false},
	} {
		if got := boundaryEvent(c.ev); got != c.want {
			t.Errorf("boundaryEvent(%+v) = %v, want %v", c.ev, got, c.want)
		}
	}
}

// replaySink records keys and acknowledges at once.
type replaySink struct {
	mu      sync.Mutex
	keys    []string
	tracker *checkpoint.Tracker
}

func (s *replaySink) Send(_ context.Context, b *event.Batch) error {
	s.mu.Lock()
	s.keys = append(s.keys, b.Keys...)
	s.mu.Unlock()
	s.tracker.Done(b.Seq)
	return nil
}

// TestReplayRunInProcess replays a range in-process (so -race sees the
// handler and the idle check together) on a server of its own, whose
// binlog ends with a rotation: after the last commit come only events that
// carry no rows, which the idle check must recognise as the end.
func TestReplayRunInProcess(t *testing.T) {
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	name := db.NewDatabase(t)
	db.Exec(t, "CREATE TABLE `"+name+"`.u (id INT PRIMARY KEY, email VARCHAR(50))")
	db.Exec(t, "INSERT INTO `"+name+"`.u VALUES (1, 'a')")
	pos := func() event.Position { f, p := db.MasterStatus(t); return event.Position{File: f, Pos: p} }
	from := pos()
	db.Exec(t, "UPDATE `"+name+"`.u SET email = 'b' WHERE id = 1")
	db.Exec(t, "INSERT INTO `"+name+"`.u VALUES (2, 'c')")
	db.Exec(t, "FLUSH BINARY LOGS")
	src := config.Default().Source
	src.Addr, src.User, src.Flavor, src.ServerID = db.Addr, "root", "mariadb", db.ReplicaServerID()
	log := zaptest.NewLogger(t)
	rng, err := ResolveRange(context.Background(), src, from.File+":"+strconv.Itoa(int(from.Pos)), "", log)
	if err != nil {
		t.Fatal(err)
	}
	if rng.To.File == from.File {
		t.Fatalf("the range %v should end in the file after the rotation", rng)
	}
	cfg, err := config.Parse([]byte("source: {user: root}\nrules:\n  - table: "+name+".u\n    keys: [\"u:{id}\", \"e:{email}\"]\n"),
		"rules.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tracker := checkpoint.NewTracker(event.Position{})
	sink := &replaySink{tracker: tracker}
	r := NewReplayer(src, []*config.Rule{&cfg.Rules[0]}, nil, sink, tracker, log, metrics.New(nil), retry.Backoff{})
	r.IdleCheck = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Run(ctx, rng); err != nil {
		t.Fatal(err)
	}
	want := []string{"u:1", "e:a", "e:b", "u:2", "e:c"}
	if !slices.Equal(sink.keys, want) {
		t.Errorf("keys %q, want %q", sink.keys, want)
	}
	if p, _ := tracker.Safe(); p.Compare(rng.To) > 0 {
		t.Errorf("safe position %v is past the end %v", p, rng.To)
	}
}
