package canal

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	pingcaperrors "github.com/pingcap/errors"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// Only the server's error 1236 means "binlog position gone". A connection
// failure whose text happens to hold 1236 (the current file is
// mysql-bin.001236, or the offset is 1236) is transient: on_gap must not
// fire for a brief outage.
func TestClassifyPositionGone(t *testing.T) {
	gone := mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG,
		"Could not find first log file name in binary log index file")
	for _, c := range []struct {
		name string
		err  error
		gone bool
	}{
		{"server error 1236", gone, true},
		{"1236 traced by go-mysql", pingcaperrors.Trace(gone), true},
		{"1236 formatted into text", pingcaperrors.Errorf("start sync replication at binlog %v error %v", mysql.Position{Name: "b.000001", Pos: 4}, gone), true},
		{"outage while mysql-bin.001236 is current", pingcaperrors.Errorf("start sync replication at binlog %v error %v",
			mysql.Position{Name: "mysql-bin.001236", Pos: 4}, errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")), false},
		{"outage at offset 1236", fmt.Errorf("start sync replication at binlog (mysql-bin.000007, 1236) error %w",
			errors.New("read tcp 127.0.0.1:3306: i/o timeout")), false},
		{"other server error", mysql.NewError(mysql.ER_UNKNOWN_ERROR, "binlog 1236 something"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := classify(c.err, event.Position{File: "mysql-bin.001236", Pos: 4}, config.SourceConfig{Addr: "127.0.0.1:3306"})
			if got := errors.Is(err, ErrPositionGone); got != c.gone {
				t.Fatalf("classify(%q) = %v; position gone = %v, want %v", c.err, err, got, c.gone)
			}
		})
	}
}

// A position inside an event, or past the file's end, is error 1236 too,
// but not a purge: it gets its own error (on_gap does not apply) and a way
// out that says how to find a valid position.
func TestClassifyPositionNotEvent(t *testing.T) {
	at := event.Position{File: "binlog.000001", Pos: 796}
	for _, c := range []struct {
		msg      string
		notEvent bool
	}{
		{"binlog truncated in the middle of event; consider out of disk space on master; the first event 'binlog.000001' at 796", true},
		{"bogus data in log event; the first event 'binlog.000001' at 796", true},
		{"Client requested master to start replication from impossible position; the first event 'binlog.000001' at 9999", true},
		{"Client requested source to start replication from position > file size", true},
		{"Could not find first log file name in binary log index file", false},
	} {
		err := classify(mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, c.msg), at, config.SourceConfig{Addr: "127.0.0.1:3306"})
		if got := errors.Is(err, ErrPositionNotEvent); got != c.notEvent || errors.Is(err, ErrPositionGone) == c.notEvent {
			t.Errorf("classify(%q) = %v; not an event start = %v, want %v", c.msg, err, got, c.notEvent)
			continue
		}
		if c.notEvent && !strings.Contains(err.Error(), "SHOW BINLOG EVENTS IN 'binlog.000001'") {
			t.Errorf("classify(%q) = %v: does not say how to find a valid position", c.msg, err)
		}
	}
}
