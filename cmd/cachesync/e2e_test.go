package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

const usersSchema = "CREATE TABLE DB.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), visits INT NOT NULL DEFAULT 0)"

const usersRules = `  - table: DB.users
    keys: ["user:{id}", "user:email:{email}"]
    watch: [email, name]
`

func TestRunInvalidatesInsertUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	p := e.start()

	e.setKeys("user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io", "user:3")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann'), (2, 'b@x.io', 'Bob'), (3, NULL, 'Cy')")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:2", "user:email:b@x.io", "user:3")

	// A changed email invalidates the old and the new key.
	e.setKeys("user:1", "user:email:a@x.io", "user:email:ann@x.io")
	e.exec("UPDATE DB.users SET email = 'ann@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:ann@x.io")

	// visits is not watched: the keys must stay.
	e.setKeys("user:2")
	e.exec("UPDATE DB.users SET visits = visits + 1 WHERE id = 2")
	e.setKeys("user:3")
	e.exec("DELETE FROM DB.users WHERE id = 42") // no row: nothing in the binlog
	e.setKeys("user:1")
	e.exec("DELETE FROM DB.users WHERE id = 1")
	e.waitGone(10*time.Second, "user:1") // later change processed, so the earlier unwatched one was too
	if left := e.exists("user:2", "user:3"); len(left) != 2 {
		t.Fatalf("keys of unwatched/no-op changes were deleted; present: %v", left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}
}

func TestRunLargeTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	const n = 100000
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	p := e.start()
	keys := make([]string, 0, 2*n)
	for i := 1; i <= n; i++ {
		keys = append(keys, fmt.Sprintf("user:%d", i), fmt.Sprintf("user:email:u%d@x.io", i))
	}
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET name = 'changed'") // one transaction, 100,000 rows
	e.waitGone(120*time.Second, keys...)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
