package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// StartMariaDBReplica starts a new mariadbd that replicates from primary in GTID
// mode (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos, START SLAVE) from
// the primary's first binlog, with a server_id of its own, and waits until
// it has applied everything the primary has committed. It is stopped and
// removed when the test ends. Lag is injected with StopApplying (STOP SLAVE
// SQL_THREAD) and StartApplying.
func StartMariaDBReplica(t testing.TB, primary *MariaDB) *MariaDB {
	t.Helper()
	r := StartMariaDB(t, MariaDBOptions{ServerID: 100 + primary.ReplicaServerID()})
	r.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', "+
		"MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos", primary.Port))
	r.Exec(t, "START SLAVE")
	t.Cleanup(func() {
		if r.Running() {
			_ = r.ExecErr("STOP SLAVE")
		}
	})
	r.WaitApplied(t, primary)
	return r
}

// StopApplying stops the replica's SQL thread: it keeps receiving the
// primary's binlog and applies none of it until StartApplying.
func (m *MariaDB) StopApplying(t testing.TB) {
	t.Helper()
	m.Exec(t, "STOP SLAVE SQL_THREAD")
}

// StartApplying starts the replica's SQL thread again.
func (m *MariaDB) StartApplying(t testing.TB) {
	t.Helper()
	m.Exec(t, "START SLAVE SQL_THREAD")
}

// GTIDPos returns @@gtid_binlog_pos on a primary, @@gtid_slave_pos on a
// replica (what it has applied).
func (m *MariaDB) GTIDPos(t testing.TB, replica bool) string {
	t.Helper()
	v := "@@gtid_binlog_pos"
	if replica {
		v = "@@gtid_slave_pos"
	}
	r := m.Exec(t, "SELECT "+v)
	s, err := r.GetString(0, 0)
	fatalIf(t, err)
	return s
}

// WaitApplied waits (at most a minute) until the replica has applied
// everything primary has committed, and fails the test naming the
// replication error otherwise.
func (m *MariaDB) WaitApplied(t testing.TB, primary *MariaDB) {
	t.Helper()
	want := primary.GTIDPos(t, false)
	r := m.Exec(t, fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', 60)", want))
	got, err := r.GetInt(0, 0)
	fatalIf(t, err)
	if got != 0 {
		st := m.Exec(t, "SHOW SLAVE STATUS")
		var why []string
		for _, col := range []string{"Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error", "Gtid_Slave_Pos"} {
			if v, err := st.GetStringByName(0, col); err == nil {
				why = append(why, col+"="+v)
			}
		}
		t.Fatalf("testenv: replica %s did not apply the primary's %s within a minute: %s", m.Addr, want, strings.Join(why, " "))
	}
}
