package main

import (
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of how keys are deleted: the delayed second delete, and
// several rules on one table.

// A reader that loaded the old row before the commit and writes it into the
// cache just after the first delete is undone by the second delete,
// delete.second_delay later; a key cached after that stays.
func TestRunSecondDeleteCatchesLateFill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("second_delay: 200ms", "second_delay: 3s")
	e.seedUsers(3)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'new' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)
	e.setKeys(userKeys(1)...) // the stale fill, well within the 3 s
	e.waitGone(30*time.Second, userKeys(1)...)

	// A fill of user:1 made now must survive: there is no third delete. The
	// checkpoint passing a later change means every delete before it is done.
	e.setKeys(userKeys(1)...)
	e.setKeys(userKeys(2)...)
	e.exec("UPDATE DB.users SET name = 'new' WHERE id = 2")
	e.waitGone(10*time.Second, userKeys(2)...)
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
	if left := e.exists(userKeys(1)...); len(left) != 2 {
		t.Fatalf("a fill made after both deletes was deleted again; present %q", left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// With second_delay: 0 there is exactly one delete.
func TestRunSecondDeleteOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.editConfig("second_delay: 200ms", "second_delay: 0s")
	e.seedUsers(3)
	p := e.start()
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'new' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)
	e.setKeys(userKeys(1)...)
	e.setKeys(userKeys(2)...)
	e.exec("UPDATE DB.users SET name = 'new' WHERE id = 2")
	e.waitGone(10*time.Second, userKeys(2)...)
	// Once the checkpoint passes the later change, every delete scheduled
	// before it has run, a second delete of user:1 included, if any.
	e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
	if left := e.exists(userKeys(1)...); len(left) != 2 {
		t.Fatalf("with second_delay: 0 a key was deleted twice; present %q", left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// Several rules matching one table all apply, each with its own watch list.
func TestRunOverlappingRules(t *testing.T) {
	t.Parallel()
	rules := `  - table: DB.users
    keys: ["user:{id}"]
    watch: [email]
  - table: DB.user*
    keys: ["profile:{id}", "profile:{{{id}}}:card"]
`
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, rules, "")
	e.seedUsers(3)
	p := e.start()

	// visits is not in the first rule's watch list; the second rule has none,
	// so every update counts for it.
	e.setKeys("user:1", "profile:1", "profile:{1}:card")
	e.exec("UPDATE DB.users SET visits = visits + 1 WHERE id = 1")
	e.waitGone(10*time.Second, "profile:1", "profile:{1}:card")
	if len(e.exists("user:1")) != 1 {
		t.Fatalf("user:1 was deleted by a change its rule does not watch")
	}
	e.setKeys("user:2", "profile:2", "profile:{2}:card")
	e.exec("UPDATE DB.users SET email = 'x@x.io' WHERE id = 2")
	e.waitGone(10*time.Second, "user:2", "profile:2", "profile:{2}:card")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
