package event

import "testing"

// Binlog files are base.NNNNNN: the number orders them, not the string, so
// mysql-bin.999999 comes before mysql-bin.1000000 (where the sequence grows a
// digit). One comparator serves the tailer, replay and the schema history.
func TestPositionCompare(t *testing.T) {
	pos := func(f string, p uint32) Position { return Position{File: f, Pos: p} }
	for _, c := range []struct {
		a, b Position
		want int
	}{
		{pos("mysql-bin.000001", 4), pos("mysql-bin.000001", 4), 0},
		{pos("mysql-bin.000001", 5), pos("mysql-bin.000001", 4), 1},
		{pos("mysql-bin.000001", 400), pos("mysql-bin.000002", 4), -1},
		{pos("mysql-bin.000002", 4), pos("mysql-bin.000001", 900), 1},
		{pos("mysql-bin.999999", 4), pos("mysql-bin.1000000", 4), -1},
		{pos("mysql-bin.1000000", 4), pos("mysql-bin.999999", 900), 1},
		{pos("mysql-bin.000010", 4), pos("mysql-bin.9", 4), 1},                                          // padding does not matter
		{pos("", 0), pos("mysql-bin.000001", 4), -1},                                                    // no file: before any
		{pos("a.000002", 4), pos("b.000001", 4), -1},                                                    // other base names: by name
		{pos("odd", 4), pos("odd", 9), -1},                                                              // no numeric suffix: by name, then offset
		{Position{File: "b.1", Pos: 4, GTID: "0-1-9"}, Position{File: "b.1", Pos: 4, GTID: "0-1-1"}, 0}, // GTIDs are ignored
	} {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
