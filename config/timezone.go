package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTimeZone reads a time zone as MySQL writes one in @@time_zone, and
// as source.time_zone takes it: UTC, an offset (+02:00, -05:30) or a zone
// name (Europe/Berlin, from the system's tzdata). SYSTEM is not a zone:
// the caller resolves it with @@system_time_zone.
func ParseTimeZone(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, fmt.Errorf("is empty: write a zone name (Europe/Berlin), an offset (+02:00) or UTC")
	case strings.EqualFold(s, "UTC"), s == "Z":
		return time.UTC, nil
	case s[0] == '+' || s[0] == '-':
		hh, mm, ok := strings.Cut(s[1:], ":")
		h, herr := strconv.Atoi(hh)
		m, merr := strconv.Atoi(mm)
		if !ok || herr != nil || merr != nil || h > 14 || m > 59 || h < 0 || m < 0 {
			return nil, fmt.Errorf("%q is not an offset: write it as +HH:MM, e.g. +02:00", s)
		}
		off := h*3600 + m*60
		if s[0] == '-' {
			off = -off
		}
		if off == 0 {
			return time.UTC, nil
		}
		return time.FixedZone(s, off), nil
	case strings.EqualFold(s, "SYSTEM"):
		return nil, fmt.Errorf("SYSTEM is the server's own zone: leave source.time_zone empty to use it, or name the zone")
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone (%v): write a name from the tz database (Europe/Berlin), an offset (+02:00) or UTC", s, err)
	}
	return loc, nil
}
