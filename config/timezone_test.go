package config

import (
	"testing"
	"time"
)

func TestParseTimeZone(t *testing.T) {
	for _, c := range []struct {
		in     string
		offset int // seconds east of UTC at 2026-01-01
		bad    bool
	}{
		{"UTC", 0, false}, {"utc", 0, false}, {"+00:00", 0, false}, {"+02:00", 7200, false},
		{"-05:30", -19800, false}, {"Europe/Berlin", 3600, false},
		{"", 0, true}, {"SYSTEM", 0, true}, {"+2", 0, true}, {"+25:00", 0, true}, {"Mars/Olympus", 0, true},
	} {
		loc, err := ParseTimeZone(c.in)
		if (err != nil) != c.bad {
			t.Errorf("%q: err %v, want bad %v", c.in, err, c.bad)
			continue
		}
		if err != nil {
			continue
		}
		if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).In(loc).Zone(); off != c.offset {
			t.Errorf("%q: offset %d, want %d", c.in, off, c.offset)
		}
	}
}
