package replicas

import (
	"testing"

	"github.com/cachesync/cachesync/event"
)

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "4f22fa47-71ca-11e1-9e33-c80aa9429563"
)

func gtids(t *testing.T, s string) []event.TrxGTID {
	t.Helper()
	g, err := event.ParseTrxGTIDs(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A replica has applied a transaction when its executed set holds the
// transaction's GTID: MariaDB by sequence number per domain (the server id
// does not order), MySQL by the uuid's intervals, gaps included.
func TestExecutedContains(t *testing.T) {
	for _, c := range []struct {
		executed, trx string
		want          bool
	}{
		{"0-1-5", "0-1-5", true},
		{"0-1-5", "0-1-6", false},
		{"0-1-5", "0-1-4", true},
		{"0-2-5", "0-1-4", true},            // another server id in the domain: still ordered by seq
		{"0-1-5,1-1-100", "1-1-101", false}, // multi-domain: each domain on its own
		{"0-1-5,1-1-100", "1-1-99", true},
		{"0-1-5,1-1-100", "2-1-1", false}, // a domain the replica has never seen
		{"0-1-5,1-1-100", "0-1-5,1-1-100", true},
		{"0-1-5,1-1-100", "0-1-5,1-1-101", false}, // every listed GTID must be in
		{"", "0-1-1", false},
		{uuidA + ":1-5", uuidA + ":5", true},
		{uuidA + ":1-5", uuidA + ":6", false},
		{uuidA + ":1-5:7-9", uuidA + ":6", false}, // a gap: 6 not applied
		{uuidA + ":1-5:7-9", uuidA + ":8", true},
		{uuidA + ":1-5,\n" + uuidB + ":1-3", uuidB + ":3", true},
		{uuidA + ":1-5,\n" + uuidB + ":1-3", uuidB + ":4", false},
		{strings2upper(uuidA) + ":1-5", uuidA + ":2", true},
		{uuidA + ":1-5:tag:1-100", uuidA + ":50", false}, // a tag's ranges are not the untagged ones
		{uuidA + ":9", uuidA + ":9", true},
	} {
		e, err := ParseExecuted(c.executed)
		if err != nil {
			t.Fatalf("ParseExecuted(%q): %v", c.executed, err)
		}
		if got := e.ContainsAll(gtids(t, c.trx)); got != c.want {
			t.Errorf("executed %q holds %q: got %v, want %v", c.executed, c.trx, got, c.want)
		}
	}
}

func strings2upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestParseExecutedRefuses(t *testing.T) {
	for _, s := range []string{"0-1", "x-1-5", uuidA + ":5-3", "short:1-5", uuidA + ":1-x"} {
		if _, err := ParseExecuted(s); err == nil {
			t.Errorf("ParseExecuted(%q) accepted", s)
		}
	}
}

// Without GTIDs the replica's Relay_Master_Log_File/Exec_Master_Log_Pos
// (the primary's coordinates) is compared with the rows event's end.
func TestPositionApplied(t *testing.T) {
	pos := func(f string, p uint32) event.Position { return event.Position{File: f, Pos: p} }
	for _, c := range []struct {
		exec, rows event.Position
		want       bool
	}{
		{pos("mysql-bin.000003", 900), pos("mysql-bin.000003", 800), true},
		{pos("mysql-bin.000003", 800), pos("mysql-bin.000003", 800), true},
		{pos("mysql-bin.000003", 799), pos("mysql-bin.000003", 800), false},
		{pos("mysql-bin.000004", 4), pos("mysql-bin.000003", 800), true},
		{pos("mysql-bin.000002", 9000), pos("mysql-bin.000003", 800), false},
		{pos("mysql-bin.1000000", 4), pos("mysql-bin.999999", 800), true}, // numeric suffix order
		{pos("", 0), pos("mysql-bin.000003", 800), false},                 // not known yet
	} {
		if got := PositionApplied(c.exec, c.rows); got != c.want {
			t.Errorf("PositionApplied(%v, %v) = %v, want %v", c.exec, c.rows, got, c.want)
		}
	}
}
