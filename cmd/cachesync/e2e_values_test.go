package main

import (
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of what keys a row renders: bytes, NULLs, table patterns.

const itemsSchema = "CREATE TABLE DB.items (k VARBINARY(16) PRIMARY KEY, fixed BINARY(4) NULL, title VARCHAR(100) CHARACTER SET utf8mb4 NULL, n INT NOT NULL DEFAULT 0)"

const itemsRules = `  - table: DB.items
    keys: ["bin:{k}", "fixed:{fixed}", "title:{title}"]
`

// Binary and multi-byte values reach Redis byte for byte: a VARBINARY key with
// 0x00 and 0xff, a BINARY(4) padded as SELECT shows it, a utf8mb4 emoji.
// Keys that a lossy encoding would produce (hex, U+FFFD, trimmed padding) are
// pre-set as decoys and must survive.
func TestRunBinaryAndUnicodeKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{itemsSchema}, itemsRules, "")
	p := e.start()

	const (
		bin    = "bin:\x00\xffa\xff\x00"
		fixed  = "fixed:\xab\x00\x00\x00"
		title  = "title:😀 café ✓"
		newBin = "bin:\xff\x00"
	)
	decoys := []string{
		"bin:", "bin:00ff61ff00", "bin:00FF61FF00", "bin:\x00\uFFFDa\uFFFD\x00", "bin:\uFFFDa\uFFFD",
		"fixed:", "fixed:\xab", "fixed:ab000000",
		"title:", "title:?? café ✓", "title:\xf0\x9f\x98\x80 caf\xe9 \xe2\x9c\x93",
	}
	e.setKeys(decoys...)
	e.setKeys(bin, fixed, title)
	e.exec("INSERT INTO DB.items (k, fixed, title) VALUES (X'00FF61FF00', X'AB00', '😀 café ✓')")
	// The precondition: the server stored exactly the bytes the keys hold.
	r := e.db.Exec(t, e.qualify("SELECT HEX(k), HEX(fixed), HEX(title) FROM DB.items"))
	hk, _ := r.GetString(0, 0)
	hf, _ := r.GetString(0, 1)
	ht, _ := r.GetString(0, 2)
	if hk != "00FF61FF00" || hf != "AB000000" || ht != "F09F988020636166C3A920E29C93" {
		t.Fatalf("stored bytes differ from what the test assumes: k=%s fixed=%s title=%s", hk, hf, ht)
	}
	e.waitGone(10*time.Second, bin, fixed, title)

	// The binary key column changes: the old and the new key both go.
	e.setKeys(bin, newBin, fixed, title)
	e.exec("UPDATE DB.items SET k = X'FF00', n = n + 1 WHERE k = X'00FF61FF00'")
	e.waitGone(10*time.Second, bin, newBin, fixed, title)

	e.setKeys(newBin, fixed, title)
	e.exec("DELETE FROM DB.items WHERE k = X'FF00'")
	e.waitGone(10*time.Second, newBin, fixed, title)

	if left := e.exists(decoys...); len(left) != len(decoys) {
		t.Fatalf("decoy keys were deleted; still present %d of %d: %q", len(left), len(decoys), left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// A NULL in a template column skips that one key; the row's other keys still
// go, and nothing like "user:email:" or "user:email:<nil>" is deleted.
func TestRunNullTemplateColumn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	p := e.start()
	decoys := []string{"user:email:", "user:email:<nil>", "user:email:NULL", "user:email:null", "user:email:nil", "user:", "user:<nil>"}
	e.setKeys(decoys...)

	e.setKeys("user:1", "user:2", "user:email:b@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, NULL, 'Ann'), (2, 'b@x.io', 'Bob')")
	e.waitGone(10*time.Second, "user:1", "user:2", "user:email:b@x.io")

	// NULL → value: the new key goes; the NULL side renders nothing.
	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("UPDATE DB.users SET email = 'a@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")

	// value → NULL: the old key goes.
	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("UPDATE DB.users SET email = NULL WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")

	// Watched name changes while email stays NULL.
	e.setKeys("user:1")
	e.exec("UPDATE DB.users SET name = 'Anne' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1")

	e.setKeys("user:1")
	e.exec("DELETE FROM DB.users WHERE id = 1")
	e.waitGone(10*time.Second, "user:1")

	if left := e.exists(decoys...); len(left) != len(decoys) {
		t.Fatalf("keys rendered from NULL were deleted; still present %d of %d: %q", len(left), len(decoys), left)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// A latin1 column holding 'café' is "café" in UTF-8 for an application on a
// utf8mb4 connection (what SELECT shows, so what it builds its key from);
// the binlog carries the latin1 byte 0xe9. The key deleted must be the one
// the application cached.
func TestRunLatin1ColumnRendersAsSelectShows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t),
		[]string{"CREATE TABLE DB.cities (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET latin1 NOT NULL)"},
		"  - table: DB.cities\n    keys: [\"city:{id}\", \"city:name:{name}\"]\n", "")
	p := e.start()
	// raw is the latin1 bytes as the binlog carries them: a probe that shows
	// which key was deleted instead when the test fails.
	const want, raw = "city:name:café", "city:name:caf\xe9"
	e.setKeys("city:1", want, raw)
	e.exec("INSERT INTO DB.cities VALUES (1, 'café')")
	r := e.db.Exec(t, e.qualify("SELECT name FROM DB.cities WHERE id = 1"))
	if got, _ := r.GetString(0, 0); got != "café" {
		t.Fatalf("SELECT shows %q, the test assumes %q", got, "café")
	}
	e.waitGone(10*time.Second, "city:1") // same batch as the name key
	if len(e.exists(want)) == 1 {
		t.Errorf("the key the application cached, %q, survived (the raw latin1 key %q was deleted: %v)",
			want, raw, len(e.exists(raw)) == 0)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// A rule for DB.orders_* covers every table the pattern matches, including one
// created while cachesync runs, and no table it does not match.
func TestRunTablePatternRule(t *testing.T) {
	t.Parallel()
	const cols = " (id INT PRIMARY KEY, user_id INT NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'new')"
	e := newEnv(t, testenv.SharedMariaDB(t), []string{
		"CREATE TABLE DB.orders_eu" + cols,
		"CREATE TABLE DB.orders_us" + cols,
		"CREATE TABLE DB.orders" + cols,
		"CREATE TABLE DB.order_items" + cols,
		"CREATE TABLE DB.xorders_eu" + cols,
	}, "  - table: DB.orders_*\n    keys: [\"order:{id}\", \"user:{user_id}:orders\"]\n", "")
	p := e.start()

	unmatched := []string{"order:901", "order:902", "order:903", "user:99:orders"}
	e.setKeys(unmatched...)
	e.exec("INSERT INTO DB.orders (id, user_id) VALUES (901, 99)")
	e.exec("INSERT INTO DB.order_items (id, user_id) VALUES (902, 99)")
	e.exec("INSERT INTO DB.xorders_eu (id, user_id) VALUES (903, 99)")

	e.setKeys("order:1", "user:10:orders", "order:2", "user:20:orders")
	e.exec("INSERT INTO DB.orders_eu (id, user_id) VALUES (1, 10)")
	e.exec("INSERT INTO DB.orders_us (id, user_id) VALUES (2, 20)")
	e.waitGone(10*time.Second, "order:1", "user:10:orders", "order:2", "user:20:orders")

	// An order moves to another user: both users' lists go.
	e.setKeys("order:2", "user:20:orders", "user:21:orders")
	e.exec("UPDATE DB.orders_us SET user_id = 21 WHERE id = 2")
	e.waitGone(10*time.Second, "order:2", "user:20:orders", "user:21:orders")

	// A table created mid-stream that matches the pattern is covered too.
	e.exec("CREATE TABLE DB.orders_asia" + cols)
	e.setKeys("order:3", "user:30:orders")
	e.exec("INSERT INTO DB.orders_asia (id, user_id) VALUES (3, 30)")
	e.waitGone(10*time.Second, "order:3", "user:30:orders")

	e.setKeys("order:1", "user:10:orders")
	e.exec("DELETE FROM DB.orders_eu WHERE id = 1")
	e.waitGone(10*time.Second, "order:1", "user:10:orders")

	if left := e.exists(unmatched...); len(left) != len(unmatched) {
		t.Fatalf("keys of tables the pattern does not match were deleted; present %q of %q", left, unmatched)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
