package source

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
)

// UnknownGTIDDomains returns the replication domains of the MariaDB GTID
// set gtid that the server's binlog has never held (@@gtid_binlog_state
// keeps every domain written, purged files included), with that state. A
// MariaDB primary streams to a replica whose position names a domain it
// does not know without an error, so a checkpoint taken from another
// server or topology would be followed silently from wherever the server
// chooses; this is checked before streaming instead.
func UnknownGTIDDomains(ctx context.Context, src config.SourceConfig, gtid string) (missing []uint32, state string, err error) {
	want, err := mysql.ParseMariadbGTIDSet(gtid)
	if err != nil {
		return nil, "", fmt.Errorf("the checkpoint's GTID set %q: %w", gtid, err)
	}
	conn, err := Connect(ctx, src)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	r, err := conn.Execute("SELECT @@GLOBAL.gtid_binlog_state")
	if err != nil {
		return nil, "", fmt.Errorf("read @@gtid_binlog_state on %s: %w", src.Addr, err)
	}
	state, _ = r.GetString(0, 0)
	have, err := mysql.ParseMariadbGTIDSet(state)
	if err != nil {
		return nil, state, fmt.Errorf("@@gtid_binlog_state %q on %s: %w", state, src.Addr, err)
	}
	for d := range want.(*mysql.MariadbGTIDSet).Sets {
		if _, ok := have.(*mysql.MariadbGTIDSet).Sets[d]; !ok {
			missing = append(missing, d)
		}
	}
	slices.Sort(missing)
	return missing, state, nil
}
