package source

import (
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
)

func TestRetentionWarning(t *testing.T) {
	for _, c := range []struct {
		kept time.Duration
		warn bool
	}{{0, false}, {time.Hour, true}, {23 * time.Hour, true}, {24 * time.Hour, false}, {30 * 24 * time.Hour, false}} {
		w := retentionWarning(c.kept, "binlog_expire_logs_seconds", "db:3306")
		if (w != "") != c.warn {
			t.Errorf("kept %v: warning %q, want one: %v", c.kept, w, c.warn)
		}
		if c.warn && !strings.Contains(w, "binlog_expire_logs_seconds") {
			t.Errorf("the warning does not name the setting: %q", w)
		}
	}
}

func TestMeasureRetention(t *testing.T) {
	files := []BinlogFile{{"b.000001", 1000}, {"b.000002", 2000}, {"b.000003", 500}}
	for _, c := range []struct {
		pos  event.Position
		want Retention
	}{
		{event.Position{File: "b.000001", Pos: 400}, Retention{Found: true, Total: 3, Behind: 600 + 2000 + 500}},
		{event.Position{File: "b.000002", Pos: 2000}, Retention{Found: true, Total: 3, Files: 1, Bytes: 1000, Behind: 500}},
		{event.Position{File: "b.000003", Pos: 500}, Retention{Found: true, Total: 3, Files: 2, Bytes: 3000}},
		{event.Position{File: "b.000000", Pos: 4}, Retention{Total: 3}}, // purged
	} {
		if got := measureRetention(files, c.pos); got != c.want {
			t.Errorf("%v: %+v, want %+v", c.pos, got, c.want)
		}
	}
}
