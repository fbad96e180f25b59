package testenv_test

import (
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

// The replica applies the primary's writes in GTID mode, and stops
// applying them while its SQL thread is stopped.
func TestMariaDBReplica(t *testing.T) {
	p := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	r := testenv.StartMariaDBReplica(t, p)
	p.Exec(t, "CREATE DATABASE rt")
	p.Exec(t, "CREATE TABLE rt.x (id INT PRIMARY KEY)")
	r.WaitApplied(t, p)
	r.StopApplying(t)
	p.Exec(t, "INSERT INTO rt.x VALUES (1)")
	if pos := p.GTIDPos(t, false); r.GTIDPos(t, true) == pos {
		t.Fatalf("replica applied %s with its SQL thread stopped", pos)
	}
	r.StartApplying(t)
	r.WaitApplied(t, p)
	if n := r.Exec(t, "SELECT COUNT(*) FROM rt.x"); n.Values[0][0].AsInt64() != 1 {
		t.Fatalf("replica has %v rows, want 1", n.Values[0][0].Value())
	}
}
