package main

import (
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Rows written before a DROP TABLE that cachesync only reads after the drop
// (it was stopped, or lagging) are still invalidated: the binlog's own column
// names (binlog_row_metadata=FULL) stand in for the schema that is gone.
func TestRowsOfDroppedTableStillInvalidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	p := e.start()
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.exec("DROP TABLE DB.users")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:b@x.io")
	p = e.start()
	e.waitLog(p, "resuming from checkpoint")
	e.waitGone(15*time.Second, "user:1", "user:email:a@x.io", "user:email:b@x.io")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
