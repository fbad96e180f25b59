package source

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/config"
)

// TimeZone is the zone TIMESTAMP values are rendered in for keys: the zone
// the application's SELECT shows them in. source.time_zone when set, else
// the server's @@time_zone, where SYSTEM means the server host's zone
// (@@system_time_zone). note is a caveat for a warning ("" when none): a
// system zone abbreviation Go cannot load is taken as today's fixed offset.
func TimeZone(ctx context.Context, src config.SourceConfig) (loc *time.Location, note string, err error) {
	if src.TimeZone != "" {
		return configuredZone(src)
	}
	conn, err := Connect(ctx, src)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	return serverTimeZone(conn, src)
}

// TimeZoneOn is TimeZone on an open connection whose session time zone
// has not been changed.
func TimeZoneOn(conn *client.Conn, src config.SourceConfig) (*time.Location, string, error) {
	if src.TimeZone != "" {
		return configuredZone(src)
	}
	return serverTimeZone(conn, src)
}

// configuredZone is source.time_zone, which overrides the server's zone.
func configuredZone(src config.SourceConfig) (*time.Location, string, error) {
	loc, err := config.ParseTimeZone(src.TimeZone)
	if err != nil {
		return nil, "", fmt.Errorf("source.time_zone: %w", err)
	}
	return loc, "", nil
}

func serverTimeZone(conn *client.Conn, src config.SourceConfig) (*time.Location, string, error) {
	r, err := conn.Execute("SELECT @@GLOBAL.time_zone, @@system_time_zone, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())")
	if err != nil {
		return nil, "", fmt.Errorf("source: reading the server's time zone: %w (or set source.time_zone)", err)
	}
	zone, _ := r.GetString(0, 0)
	system, _ := r.GetString(0, 1)
	if !strings.EqualFold(zone, "SYSTEM") {
		loc, err := config.ParseTimeZone(zone)
		if err != nil {
			return nil, "", fmt.Errorf("source: the server's time_zone %w: set source.time_zone to the zone the application sees", err)
		}
		return loc, "", nil
	}
	if loc, err := config.ParseTimeZone(system); err == nil {
		return loc, "", nil
	}
	// An abbreviation such as CEST: today's offset, which a daylight-saving
	// change will make wrong.
	now, _ := r.GetInt(0, 2)
	if now == 0 {
		return time.UTC, "", nil
	}
	off := time.Duration(now) * time.Second
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	name := fmt.Sprintf("%s%02d:%02d", sign, int(off.Hours()), int(off.Minutes())%60)
	return time.FixedZone(name, int(now)), fmt.Sprintf("the server's time zone is SYSTEM (%s), which cachesync cannot load by that name: TIMESTAMP keys use today's offset %s, "+
		"wrong after a daylight-saving change; set source.time_zone to the zone's name (Europe/Berlin, ...) for %s", system, name, src.Addr), nil
}
