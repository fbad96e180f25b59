package writebehind

// The offsets table is the contract between the flusher (writebehind/flusher),
// which writes it, and the binlog tailer (canal), which recognises the
// flusher's own transactions by it. It lives here, beside the entries the
// flusher applies, so that both import it without the tailer depending on
// the flusher.
//
// There is one table in each database that holds write-behind tables, and
// one row per stream. A row says: every entry of Stream up to LastID is
// committed to MySQL, and LeaseToken is the fencing token of the newest
// flusher that took the stream over. The flusher creates the table, records
// its token in the row before it reads the stream (a flush transaction with
// an older token is refused), and writes the row FIRST in every flush
// transaction, under SELECT … FOR UPDATE; re-delivered entries at or below
// LastID are acknowledged without being applied again. The tailer reads no
// value from it: a transaction whose first row change is in this table is
// a flush of the streams named in its rows, and the owned keys of the rows
// it writes get guarded deletes (echo marks). The privilege checks require
// CREATE, SELECT, INSERT and UPDATE on it for the flusher's user.

// OffsetsTable is the offsets table's name, the same in every database.
const OffsetsTable = "cachesync_wb_offsets"

// Columns of OffsetsTable.
const (
	OffsetsStream     = "stream"      // write_behind.stream; the primary key
	OffsetsLastID     = "last_id"     // the last entry ID applied
	OffsetsLeaseToken = "lease_token" // the fencing token of the stream's flusher
)

// LeaseTokenDefinition defines OffsetsLeaseToken, in the table and when it
// is added to a table created before fencing (ALTER TABLE … ADD COLUMN).
const LeaseTokenDefinition = OffsetsLeaseToken + " BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'fencing token of the flusher that holds the stream'"

// OffsetsDDL creates the offsets table unless it exists; table is its
// database-qualified, quoted name.
func OffsetsDDL(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + ` (
  ` + OffsetsStream + ` VARBINARY(512) NOT NULL PRIMARY KEY COMMENT 'write_behind.stream',
  ` + OffsetsLastID + ` VARCHAR(64) NOT NULL COMMENT 'last stream entry ID applied',
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  ` + LeaseTokenDefinition + `
) ENGINE=InnoDB COMMENT='cachesync write-behind: written first in every flush transaction'`
}
