package source

import (
	"context"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// Retention is how much binlog the server still keeps before a position:
// what a purge may remove before the checkpoint itself is gone.
type Retention struct {
	Found bool  // the position's file is still on the server
	Files int   // binlog files older than the position's file
	Bytes int64 // their total size
	Total int   // binlog files on the server
	// Behind is the binlog written after the position: the rest of its
	// file and every newer file, in bytes.
	Behind int64
}

// RetentionBefore lists the server's binlog files (SHOW BINARY LOGS, which
// needs REPLICATION CLIENT) and measures those older than pos's file, and
// how much binlog was written after pos.
func RetentionBefore(ctx context.Context, src config.SourceConfig, pos event.Position) (Retention, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return Retention{}, err
	}
	defer conn.Close()
	files, err := BinaryLogs(conn)
	if err != nil {
		return Retention{}, err
	}
	return measureRetention(files, pos), nil
}

// measureRetention measures files (oldest first) against pos.
func measureRetention(files []BinlogFile, pos event.Position) Retention {
	ret := Retention{Total: len(files)}
	for _, f := range files {
		switch {
		case ret.Found:
			ret.Behind += f.Size
		case f.Name == pos.File:
			ret.Found = true
			ret.Behind += max(f.Size-int64(pos.Pos), 0)
		default:
			ret.Files++
			ret.Bytes += f.Size
		}
	}
	if !ret.Found {
		ret.Files, ret.Bytes = 0, 0
	}
	return ret
}

// MappedTables lists the base tables on the server that some rule maps
// (patterns resolved), as db.table, sorted.
func MappedTables(ctx context.Context, src config.SourceConfig, rules []*config.Rule) ([]string, error) {
	conn, err := Connect(ctx, src)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := conn.Execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY 1, 2")
	if err != nil {
		return nil, fmt.Errorf("source: list tables: %w", err)
	}
	var out []string
	for i := 0; i < r.RowNumber(); i++ {
		db, _ := r.GetString(i, 0)
		name, _ := r.GetString(i, 1)
		for _, rule := range rules {
			if rule.Matches(db, name) {
				out = append(out, db+"."+name)
				break
			}
		}
	}
	return out, nil
}

// minRetention is the binlog retention below which cachesync warns: an
// outage of cachesync longer than the retention loses its checkpoint.
const minRetention = 24 * time.Hour

// retentionWarnings reads how long the source keeps its binlogs
// (binlog_expire_logs_seconds, else expire_logs_days; 0 is forever) and
// warns when that is under a day, or when it cannot be read.
func retentionWarnings(conn *client.Conn, src config.SourceConfig) []string {
	seconds, name := int64(0), ""
	if r, err := conn.Execute("SELECT @@GLOBAL.binlog_expire_logs_seconds"); err == nil {
		seconds, _ = r.GetInt(0, 0)
		name = "binlog_expire_logs_seconds"
	} else if ErrorCode(err) != 1193 { // unknown variable: an older server
		return []string{fmt.Sprintf("cannot read the source's binlog retention (binlog_expire_logs_seconds): %v", err)}
	}
	if seconds == 0 {
		if r, err := conn.Execute("SELECT @@GLOBAL.expire_logs_days"); err == nil {
			days, _ := r.GetFloat(0, 0) // MariaDB allows fractions of a day
			seconds, name = int64(days*86400), "expire_logs_days"
		} else if ErrorCode(err) != 1193 { // MySQL 8.4 removed it
			return []string{fmt.Sprintf("cannot read the source's binlog retention (expire_logs_days): %v", err)}
		}
	}
	if w := retentionWarning(time.Duration(seconds)*time.Second, name, src.Addr); w != "" {
		return []string{w}
	}
	return nil
}

func retentionWarning(kept time.Duration, setting, addr string) string {
	if kept <= 0 || kept >= minRetention {
		return ""
	}
	return fmt.Sprintf("source %s keeps its binlogs only %s (%s): if cachesync is stopped or behind for longer, its checkpoint is purged and only a backfill recovers; keep them a day or more",
		addr, kept, setting)
}
