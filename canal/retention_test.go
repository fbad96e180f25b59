package canal

import (
	"strings"
	"testing"
	"time"
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
