package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of statements that change many rows at once.

const ordersSchema = "CREATE TABLE DB.orders (id INT PRIMARY KEY, user_id BIGINT UNSIGNED NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'new')"

const ordersRules = `  - table: DB.orders
    keys: ["order:{id}", "user:{user_id}:orders"]
`

// One statement, many rows, each changing different columns: every row's
// keys follow its own before and after image, and a row whose change touches
// no watched column keeps its keys.
func TestRunMultiRowStatementsMixedKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, ordersSchema}, usersRules+ordersRules, "")
	for i := 1; i <= 6; i++ {
		e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) VALUES (%d, 'e%d@x.io', 'n%d')", i, i, i))
	}
	e.exec("INSERT INTO DB.orders (id, user_id) VALUES (100, 10)")
	p := e.start()

	untouched := []string{"user:4", "user:email:e4@x.io"}
	e.setKeys(untouched...)
	step := func(sql string, keys ...string) {
		t.Helper()
		e.setKeys(keys...)
		e.exec(sql)
		e.waitGone(10*time.Second, keys...)
	}
	// Row 1 changes its email (old and new key), row 2's email becomes NULL
	// (old key only), row 3 changes a watched non-key column, row 4 only an
	// unwatched one (its keys stay).
	step(`UPDATE DB.users SET
		email = CASE id WHEN 1 THEN 'e1new@x.io' WHEN 2 THEN NULL ELSE email END,
		name = CASE id WHEN 3 THEN 'renamed' ELSE name END,
		visits = visits + 1
		WHERE id IN (1, 2, 3, 4)`,
		"user:1", "user:email:e1@x.io", "user:email:e1new@x.io", "user:2", "user:email:e2@x.io", "user:3", "user:email:e3@x.io")
	// Multi-row INSERT with a NULL template column in the middle.
	step("INSERT INTO DB.users (id, email, name) VALUES (7, 'e7@x.io', 'a'), (8, NULL, 'b'), (9, 'e9@x.io', 'c')",
		"user:7", "user:email:e7@x.io", "user:8", "user:9", "user:email:e9@x.io")
	// One statement that updates one row and inserts another.
	step("INSERT INTO DB.users (id, email, name) VALUES (5, 'e5new@x.io', 'n5'), (10, 'e10@x.io', 'n10') ON DUPLICATE KEY UPDATE email = VALUES(email)",
		"user:5", "user:email:e5@x.io", "user:email:e5new@x.io", "user:10", "user:email:e10@x.io")
	// REPLACE of an existing row: the old and the new email key.
	step("REPLACE INTO DB.users (id, email, name) VALUES (6, 'e6new@x.io', 'n6')",
		"user:6", "user:email:e6@x.io", "user:email:e6new@x.io")
	// A multi-table UPDATE: rows of two tables in one statement.
	step("UPDATE DB.users u JOIN DB.orders o ON o.user_id = u.id SET u.name = 'joined', o.status = 'paid' WHERE u.id = 10",
		"user:10", "user:email:e10@x.io", "order:100", "user:10:orders")
	// Multi-row DELETE.
	step("DELETE FROM DB.users WHERE id IN (7, 8, 9)",
		"user:7", "user:email:e7@x.io", "user:8", "user:9", "user:email:e9@x.io")
	// A multi-table DELETE.
	step("DELETE DB.users, DB.orders FROM DB.users JOIN DB.orders ON DB.orders.user_id = DB.users.id WHERE DB.users.id = 10",
		"user:10", "user:email:e10@x.io", "order:100", "user:10:orders")

	if left := e.exists(untouched...); len(left) != len(untouched) {
		t.Fatalf("keys of a row whose change touched no watched column were deleted; present %q of %q", left, untouched)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// A statement changing 1,000 rows (several rows events, one transaction)
// invalidates the old and the new key of every row; so does deleting them all.
func TestRunThousandRowStatement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	const n = 1000
	e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_1_to_%d", n))
	p := e.start()

	ids, oldEmail, newEmail := keyRange("user:%d", 1, n), keyRange("user:email:u%d@x.io", 1, n), keyRange("user:email:v%d@x.io", 1, n)
	all := append(append(append([]string{}, ids...), oldEmail...), newEmail...)
	e.setKeys(all...)
	e.exec(fmt.Sprintf("UPDATE DB.users SET email = CONCAT('v', id, '@x.io') WHERE id <= %d", n))
	e.waitGone(60*time.Second, all...)

	e.setKeys(all...)
	e.exec("DELETE FROM DB.users")
	e.waitGone(60*time.Second, append(append([]string{}, ids...), newEmail...)...)
	if left := e.exists(oldEmail[:10]...); len(left) != 10 {
		t.Fatalf("keys of emails no row had any more were deleted: present %q", left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
