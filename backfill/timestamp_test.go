package backfill

import (
	"testing"
	"time"
)

func TestInZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	plus2 := time.FixedZone("+02:00", 2*3600)
	minus530 := time.FixedZone("-05:30", -(5*3600 + 30*60))
	for _, c := range []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2026-11-26 10:34:56.789", plus2, "2026-11-26 12:34:56.789"},
		{"2026-11-26 10:34:56", plus2, "2026-11-26 12:34:56"},
		{"2026-11-26 22:00:00.000000", plus2, "2026-11-27 00:00:00.000000"},
		{"2026-11-26 10:34:56.5", minus530, "2026-11-26 05:04:56.5"},
		{"2026-07-01 10:00:00", berlin, "2026-07-01 12:00:00"}, // summer time
		{"2026-01-01 10:00:00", berlin, "2026-01-01 11:00:00"},
		{"2026-11-26 10:34:56.789", time.UTC, "2026-11-26 10:34:56.789"},
		{"2026-11-26 10:34:56.789", nil, "2026-11-26 10:34:56.789"},
		{"0000-00-00 00:00:00", plus2, "0000-00-00 00:00:00"},
		{"garbage", plus2, "garbage"},
	} {
		if got := string(inZone([]byte(c.in), c.loc)); got != c.want {
			t.Errorf("inZone(%q, %v) = %q, want %q", c.in, c.loc, got, c.want)
		}
	}
}
