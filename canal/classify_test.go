package canal

import (
	"errors"
	"fmt"
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
