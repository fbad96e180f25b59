package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// CurrentPosition is the primary's binlog position now (SHOW MASTER STATUS
// or its newer name on the server's version).
func CurrentPosition(ctx context.Context, src config.SourceConfig) (event.Position, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return event.Position{}, err
	}
	defer conn.Close()
	return MasterPosition(conn, src)
}

// MasterPosition reads the primary's current binlog position (and GTID set)
// on a connection the caller holds.
func MasterPosition(conn *client.Conn, src config.SourceConfig) (event.Position, error) {
	q := "SHOW MASTER STATUS"
	if src.Flavor == mysql.MariaDBFlavor {
		q = "SHOW BINLOG STATUS"
		if ok, _ := mysql.CompareServerVersions(conn.GetServerVersion(), "10.5.2"); ok < 0 {
			q = "SHOW MASTER STATUS"
		}
	} else if ok, _ := mysql.CompareServerVersions(conn.GetServerVersion(), "8.4.0"); ok >= 0 {
		q = "SHOW BINARY LOG STATUS"
	}
	r, err := conn.Execute(q)
	if err != nil {
		return event.Position{}, fmt.Errorf("source: %s failed: %w (the user needs REPLICATION CLIENT)", q, err)
	}
	if r.RowNumber() == 0 {
		return event.Position{}, fmt.Errorf("source: %s returned nothing: binary logging is off on %s; enable log_bin with binlog_format=ROW", q, src.Addr)
	}
	file, _ := r.GetString(0, 0)
	off, _ := r.GetUint(0, 1)
	pos := event.Position{File: file, Pos: uint32(off)}
	if src.GTID {
		gq := "SELECT @@GLOBAL.gtid_executed"
		if src.Flavor == mysql.MariaDBFlavor {
			gq = "SELECT @@GLOBAL.gtid_binlog_pos"
		}
		g, err := conn.Execute(gq)
		if err != nil {
			return event.Position{}, fmt.Errorf("source: reading the GTID position (%s): %w", gq, err)
		}
		s, _ := g.GetString(0, 0)
		pos.GTID = strings.ReplaceAll(s, "\n", "")
	}
	return pos, nil
}

// BinlogFile is one row of SHOW BINARY LOGS.
type BinlogFile struct {
	Name string
	Size int64
}

// BinaryLogs lists the server's binlog files, oldest first (SHOW BINARY
// LOGS, which needs REPLICATION CLIENT).
func BinaryLogs(conn *client.Conn) ([]BinlogFile, error) {
	res, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("source: SHOW BINARY LOGS failed: %w (the user needs REPLICATION CLIENT, BINLOG MONITOR on MariaDB)", err)
	}
	files := make([]BinlogFile, 0, res.RowNumber())
	for i := 0; i < res.RowNumber(); i++ {
		name, _ := res.GetString(i, 0)
		size, _ := res.GetInt(i, 1)
		files = append(files, BinlogFile{Name: name, Size: size})
	}
	if len(files) == 0 {
		return nil, errors.New("source: the server lists no binlog files: is log_bin on?")
	}
	return files, nil
}

// BinlogSettings reads the source's global binlog_format and
// binlog_row_image: what sessions opened from now on write.
func BinlogSettings(ctx context.Context, src config.SourceConfig) (format, image string, err error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	r, err := conn.Execute("SELECT @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")
	if err != nil {
		return "", "", fmt.Errorf("source: reading binlog_format and binlog_row_image: %w", err)
	}
	format, _ = r.GetString(0, 0)
	image, _ = r.GetString(0, 1)
	return format, image, nil
}
