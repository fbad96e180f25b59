package canal

import (
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// The binlog decoder renders TIMESTAMP in the tailer's zone: what
// source.time_zone says, else the server's (UTC on the test server).
func TestCanalConfigTimestampZone(t *testing.T) {
	db := sharedMariaDB(t)
	src := config.Default().Source
	src.Addr, src.User, src.Flavor = db.Addr, "root", "mariadb"
	for _, c := range []struct {
		zone string
		want string
	}{{"", "UTC"}, {"+02:00", "+02:00"}, {"Europe/Berlin", "Europe/Berlin"}} {
		src.TimeZone = c.zone
		tl := New(src, nil, nil, nil, zaptest.NewLogger(t), metrics.New(nil), retry.Backoff{})
		if err := tl.resolveTimeZone(t.Context()); err != nil {
			t.Fatal(err)
		}
		cc, err := tl.canalConfig()
		if err != nil {
			t.Fatal(err)
		}
		if got := cc.TimestampStringLocation.String(); got != c.want {
			t.Errorf("time_zone %q: decoder renders in %s, want %s", c.zone, got, c.want)
		}
		ts := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC).In(cc.TimestampStringLocation).Format(time.DateTime)
		if c.want == "+02:00" && ts != "2026-07-01 12:00:00" || c.want == "UTC" && ts != "2026-07-01 10:00:00" {
			t.Errorf("time_zone %q renders 10:00 UTC as %s", c.zone, ts)
		}
	}
}
