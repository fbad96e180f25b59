package canal

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// positionGoneText is how mysql.MyError prints error 1236
// (ER_MASTER_FATAL_ERROR_READING_BINLOG): "ERROR 1236 (HY000): ...".
const positionGoneText = "ERROR 1236 ("

// notEventStart reports whether an error 1236 says the position lies inside
// an event or past the file's end, rather than in a file the server lacks.
// The server gives all of these one code; only its text tells them apart
// (MariaDB 10.11 and MySQL 8 wording). Anything else stays "gone".
func notEventStart(err error) bool {
	msg := err.Error()
	for _, s := range []string{"in the middle of event", "bogus data in log event", "impossible position", "position > file size"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// classify returns nil for errors worth reconnecting after, and a clear
// permanent error otherwise.
func classify(err error, at event.Position, src config.SourceConfig) error {
	if err == nil {
		return nil
	}
	code := source.ErrorCode(err)
	// The stream hands the server's error packet on as a *mysql.MyError;
	// only where canal formats one into text (errors.Errorf("... %v")) is
	// the code looked for there, in the server error's own format. A file
	// name or offset holding 1236 in a network error is not that error.
	if code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG || strings.Contains(err.Error(), positionGoneText) {
		if notEventStart(err) {
			return fmt.Errorf("%w: %s on %s (the server says: %v). The checkpoint was edited by hand, comes from another server, "+
				"or the server lost the end of its binlog in a crash. Find the start of a transaction (a Gtid or BEGIN event) at or before it with "+
				"SHOW BINLOG EVENTS IN '%s' and write that position into the checkpoint; or delete the checkpoint to start from the current position "+
				"and run `cachesync backfill` for every mapped table so nothing stays stale", ErrPositionNotEvent, at, src.Addr, err, at.File)
		}
		hint := ""
		if at.GTID != "" {
			hint = ". With a GTID checkpoint this also happens after a failover to a replica that had not received every transaction cachesync had read from the old primary: way (1) applies"
		}
		return fmt.Errorf("%w: the checkpoint %s points into binlog the server %s no longer has (purged, or a different server): %v. "+
			"Two ways out: (1) delete the checkpoint to start from the current position, then run `cachesync backfill` for every mapped table so nothing stays stale; "+
			"(2) restore the missing binlog files on the server and restart%s", ErrPositionGone, at, src.Addr, err, hint)
	}
	switch code {
	case mysql.ER_ACCESS_DENIED_ERROR, mysql.ER_DBACCESS_DENIED_ERROR, mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, mysql.ER_TABLEACCESS_DENIED_ERROR:
		return source.ExplainConnError(src, err)
	}
	return nil
}

// CheckGTIDDomains refuses a MariaDB GTID checkpoint naming a replication
// domain the server has never written: it comes from another server, and
// the server would stream from it without a word (source.UnknownGTIDDomains).
// `run` checks it before streaming, `config check --online` too.
func CheckGTIDDomains(ctx context.Context, src config.SourceConfig, at event.Position) error {
	if at.GTID == "" || !src.GTID || src.Flavor != mysql.MariaDBFlavor {
		return nil
	}
	missing, state, err := source.UnknownGTIDDomains(ctx, src, at.GTID)
	if err != nil || len(missing) == 0 {
		return err
	}
	return fmt.Errorf("%w: the checkpoint %s names GTID domain %v, which the server %s has never written (its @@gtid_binlog_state is %q): "+
		"the checkpoint comes from another server or replication topology. Delete the checkpoint to start from the current position, "+
		"then run `cachesync backfill` for every mapped table so nothing stays stale; or write this server's position into it",
		ErrPositionGone, at, missing, src.Addr, state)
}
