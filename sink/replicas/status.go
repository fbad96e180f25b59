package replicas

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/event"
)

// errNotReplica is a server that answers SHOW SLAVE STATUS with no row.
var errNotReplica = errors.New("SHOW SLAVE STATUS is empty: the server is not a replica (or its replication was RESET)")

// slaveStatus is the primary position up to which the replica's SQL thread
// has executed: Relay_Master_Log_File and Exec_Master_Log_Pos (MySQL 8.4:
// SHOW REPLICA STATUS, Relay_Source_Log_File and Exec_Source_Log_Pos).
// The position moves at transaction boundaries, so a position at or past
// a transaction's rows event means the transaction is committed.
func slaveStatus(conn *client.Conn) (event.Position, error) {
	res, err := conn.Execute("SHOW SLAVE STATUS")
	names := [2]string{"Relay_Master_Log_File", "Exec_Master_Log_Pos"}
	if err != nil {
		var rerr error
		res, rerr = conn.Execute("SHOW REPLICA STATUS")
		if rerr != nil {
			return event.Position{}, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
		}
		names = [2]string{"Relay_Source_Log_File", "Exec_Source_Log_Pos"}
	}
	if res.RowNumber() == 0 {
		return event.Position{}, errNotReplica
	}
	file, err := res.GetStringByName(0, names[0])
	if err != nil {
		return event.Position{}, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	pos, err := res.GetUintByName(0, names[1])
	if err != nil {
		return event.Position{}, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	return event.Position{File: file, Pos: uint32(pos)}, nil
}

// PositionApplied reports whether a replica whose SQL thread has executed
// the primary's binlog up to exec has committed the transaction of the
// rows event ending at rows. Exec_Master_Log_Pos moves at transaction
// boundaries: at or past the end of one of its rows events, the
// transaction is committed. An unknown position applied nothing.
func PositionApplied(exec, rows event.Position) bool {
	return exec.File != "" && rows.File != "" && exec.Compare(rows) >= 0
}
