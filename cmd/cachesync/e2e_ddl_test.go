package main

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// Scenario tests of schema changes while cachesync streams or lags.

const pingsSchema = "CREATE TABLE DB.pings (id INT PRIMARY KEY)"

// pingsRules maps a second table, so a test can show the stream still moves
// (and where it is) whatever happens to users.
const pingsRules = `  - table: DB.pings
    keys: ["ping:{id}"]
`

// ping writes a row to pings and waits until its key is gone: every change
// committed before it has been processed.
func (e *env) ping(id int) {
	e.t.Helper()
	key := "ping:" + strconv.Itoa(id)
	e.setKeys(key)
	e.exec("INSERT INTO DB.pings VALUES (" + strconv.Itoa(id) + ")")
	e.waitGone(15*time.Second, key)
}

// DDL while cachesync follows the binlog live: a column added before the key
// column and a non-key column dropped change nothing for the keys rendered
// after them; dropping a template column keeps the rule's other keys going and
// says so loudly; renaming the table away and dropping it stops its keys and
// leaves the stream running for other tables.
func TestRunDDLMidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, pingsSchema}, usersRules+pingsRules, "")
	p := e.start()

	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")

	// A column before the key column: a stale schema would render user:777.
	decoys := []string{"user:777", "user:email:2", "user:email:1", "user:", "user:email:"}
	e.setKeys(decoys...)
	e.exec("ALTER TABLE DB.users ADD COLUMN pre INT NOT NULL DEFAULT 777 FIRST")
	e.setKeys("user:2", "user:email:b@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (2, 'b@x.io', 'Bob')")
	e.waitGone(10*time.Second, "user:2", "user:email:b@x.io")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:a2@x.io")
	e.exec("UPDATE DB.users SET email = 'a2@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:a2@x.io")

	// A non-key column goes.
	e.exec("ALTER TABLE DB.users DROP COLUMN visits")
	e.setKeys("user:3", "user:email:c@x.io", "user:2", "user:email:b@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (3, 'c@x.io', 'Cy')")
	e.exec("UPDATE DB.users SET name = 'Bobby' WHERE id = 2")
	e.waitGone(10*time.Second, "user:3", "user:email:c@x.io", "user:2", "user:email:b@x.io")
	if left := e.exists(decoys...); len(left) != len(decoys) {
		t.Fatalf("keys rendered from misaligned columns were deleted; present %q of %q", left, decoys)
	}

	// A template column goes: user:{id} still works, the process runs on and
	// logs at error level which template stopped rendering.
	e.exec("ALTER TABLE DB.users DROP COLUMN email")
	e.setKeys("user:4", "user:1")
	e.exec("INSERT INTO DB.users (id, name) VALUES (4, 'Di')")
	e.exec("UPDATE DB.users SET name = 'Ann2' WHERE id = 1")
	e.waitGone(10*time.Second, "user:4", "user:1")
	p.alive(t)
	if !p.logHas(`"level":"error"`, "key template names a column the table does not have", `"column":"email"`, "user:email:{email}") {
		t.Errorf("no error-level log naming the template and the dropped column:\n%s", p.out.String())
	}

	// Renamed away: rows of users_old match no rule.
	e.exec("RENAME TABLE DB.users TO DB.users_old")
	e.setKeys("user:5", "user:4")
	e.exec("INSERT INTO DB.users_old (id, name) VALUES (5, 'Ed')")
	e.exec("UPDATE DB.users_old SET name = 'Dee' WHERE id = 4")
	e.ping(1)
	if left := e.exists("user:5", "user:4"); len(left) != 2 {
		t.Errorf("rows of users_old, which no rule maps, invalidated user:* keys; present %q", left)
	}
	e.exec("DROP TABLE DB.users_old")
	e.ping(2)
	p.alive(t)

	// The table comes back with another layout: keys follow the new one.
	e.exec("CREATE TABLE DB.users (email VARCHAR(191), name VARCHAR(100), id BIGINT UNSIGNED PRIMARY KEY)")
	e.setKeys("user:6", "user:email:f@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (6, 'f@x.io', 'Fay')")
	e.waitGone(10*time.Second, "user:6", "user:email:f@x.io")

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// MariaDB DDL that go-mysql's SQL parser (TiDB's) cannot read still changes
// the table. Rows written after it must render from the new layout, not
// from the one cachesync had cached.
func TestRunDDLMariaDBSyntax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ddl string }{
		{"algorithm_nocopy", "ALTER TABLE DB.users ADD COLUMN pre INT NOT NULL DEFAULT 777 FIRST, ALGORITHM=NOCOPY"},
		{"alter_online", "ALTER ONLINE TABLE DB.users ADD COLUMN pre INT NOT NULL DEFAULT 777 FIRST"},
		{"create_or_replace", "CREATE OR REPLACE TABLE DB.users (pre INT NOT NULL DEFAULT 777, id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), visits INT NOT NULL DEFAULT 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
			p := e.start()
			// Cache the table's layout in cachesync first.
			e.setKeys("user:1", "user:email:a@x.io")
			e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
			e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")

			e.exec(tc.ddl)
			e.setKeys("user:2", "user:email:b@x.io", "user:777")
			e.exec("INSERT INTO DB.users (id, email, name) VALUES (2, 'b@x.io', 'Bob')")
			e.waitGone(15*time.Second, "user:2", "user:email:b@x.io")
			if len(e.exists("user:777")) == 0 {
				t.Errorf("user:777 (the value of the new first column) was deleted: rows decoded with the old layout")
			}
			p.alive(t)
		})
	}
}

// cachesync stopped (or lagging) while a column is added before the key
// column: on restart it reads rows written before the DDL. They must still
// render the keys of their own layout; the binlog carries the column names
// (binlog_row_metadata=FULL), the live schema no longer matches them.
// TestRunDDLWhileBehind: rows written before an ADD COLUMN ... FIRST that
// cachesync reads only after it (it was stopped). go-mysql canal alone would
// decode them with the live, newer schema and delete misaligned keys; the
// schema history seeds canal with the schema in force at the checkpoint.
func TestRunDDLWhileBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	p := e.start()
	e.setKeys("user:1", "user:email:a@x.io", "user:email:a2@x.io")
	e.exec("UPDATE DB.users SET email = 'a2@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:a2@x.io")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}

	d := e.writeBehindDDL()
	p = e.start()
	if !p.logHas("resuming from checkpoint") {
		t.Errorf("restart did not resume from the checkpoint:\n%s", p.out.String())
	}
	e.checkBehindDDL(d, "")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// behindDDL is what writeBehindDDL wrote: the keys of rows written before an
// ADD COLUMN ... FIRST, and the misaligned keys a decoder using the live
// schema would render for them instead.
type behindDDL struct{ keys, decoys []string }

// writeBehindDDL, with cachesync stopped after it read users (row 1 with
// email a2@x.io), writes rows with the old layout and then adds a column in
// front of them, caching both their keys and the decoys.
func (e *env) writeBehindDDL() behindDDL {
	e.t.Helper()
	d := behindDDL{
		keys:   []string{"user:2", "user:email:b@x.io", "user:1", "user:email:a2@x.io", "user:email:a3@x.io"},
		decoys: []string{"user:b@x.io", "user:email:Bob", "user:a3@x.io", "user:email:Ann"},
	}
	e.setKeys(d.keys...)
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (2, 'b@x.io', 'Bob')")
	e.exec("UPDATE DB.users SET email = 'a3@x.io' WHERE id = 1")
	e.exec("ALTER TABLE DB.users ADD COLUMN pre INT NOT NULL DEFAULT 777 FIRST")
	e.setKeys(d.decoys...)
	return d
}

// checkBehindDDL waits until a row written now is invalidated (everything
// before it was read) and fails if a key of d survived.
func (e *env) checkBehindDDL(d behindDDL, when string) {
	e.t.Helper()
	e.setKeys("user:3")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (3, 'c@x.io', 'Cy')")
	e.waitGone(15*time.Second, "user:3")
	if left := e.exists(d.keys...); len(left) > 0 {
		e.t.Errorf("keys of rows written before the DDL survived%s: %q; misaligned decoys deleted instead: %q",
			when, left, missing(e, d.decoys))
	}
}

// missing returns which of keys are not in Redis.
func missing(e *env, keys []string) []string {
	have := map[string]bool{}
	for _, k := range e.exists(keys...) {
		have[k] = true
	}
	var out []string
	for _, k := range keys {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}

// Two DDLs while cachesync was stopped: see e2e_ddlstopped_test.go.

// A DDL that keeps the column count (a reorder), with no row of the table
// after it before a restart, or in a syntax go-mysql's parser cannot read:
// the schema history must know the new layout from the DDL's position on,
// and the tailer must notice a DDL it could not parse, or rows written after
// it render keys from the wrong columns (after the restart, and for the
// unparsed DDL already before it).
func TestRunDDLReorderThenRestart(t *testing.T) {
	t.Parallel()
	first := []string{"user:Ann", "user:email:1"} // what the old layout renders after name moved first
	swapped := []string{"user:email:Ann"}         // ... after name moved before email: same types
	for _, tc := range []struct {
		name, ddl  string
		decoys     []string
		live, gtid bool // a row after the DDL before the restart; GTID mode
	}{
		{"parsed", "ALTER TABLE DB.users MODIFY name VARCHAR(100) FIRST", first, false, false},
		{"parsed_gtid", "ALTER TABLE DB.users MODIFY name VARCHAR(100) FIRST", first, false, true},
		{"parsed_same_types", "ALTER TABLE DB.users MODIFY name VARCHAR(100) AFTER id", swapped, false, false},
		{"alter_online", "ALTER ONLINE TABLE DB.users MODIFY name VARCHAR(100) FIRST", first, false, false},
		{"algorithm_nocopy", "ALTER TABLE DB.users MODIFY name VARCHAR(100) FIRST, ALGORITHM=NOCOPY", first, false, false},
		{"alter_online_live", "ALTER ONLINE TABLE DB.users MODIFY name VARCHAR(100) FIRST", first, true, false},
		{"alter_online_same_types", "ALTER ONLINE TABLE DB.users MODIFY name VARCHAR(100) AFTER id", swapped, false, false},
		{"alter_online_same_types_live", "ALTER ONLINE TABLE DB.users MODIFY name VARCHAR(100) AFTER id", swapped, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, pingsSchema}, usersRules+pingsRules, "")
			if tc.gtid {
				e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
			}
			p := e.start()
			e.setKeys("user:1", "user:email:a@x.io")
			e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')") // the tailer records this layout
			e.waitGone(10*time.Second, "user:1", "user:email:a@x.io")

			e.exec(tc.ddl)
			e.ping(1) // an unrelated write: the checkpoint passes the DDL
			e.waitCheckpoint(30*time.Second, masterPos(t, e.db))
			decoys := tc.decoys
			e.setKeys(decoys...)
			old := "a@x.io"
			if tc.live {
				e.updateAfterReorder(2, old, "a2@x.io", decoys)
				old = "a2@x.io"
			}
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit code %d after SIGTERM", code)
			}
			if tc.gtid {
				e.historyHasGTIDs(e.name + ".users")
			}

			p = e.start()
			e.updateAfterReorder(3, old, "a3@x.io", decoys)
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit code %d after SIGTERM", code)
			}
		})
	}
}

// updateAfterReorder changes user 1's email from old to email and fails if a key of
// the row survived or a key the pre-reorder layout renders was deleted.
func (e *env) updateAfterReorder(ping int, old, email string, decoys []string) {
	e.t.Helper()
	keys := []string{"user:1", "user:email:" + old, "user:email:" + email}
	e.setKeys(keys...)
	e.exec("UPDATE DB.users SET email = '" + email + "' WHERE id = 1")
	e.ping(ping)
	if left := e.exists(keys...); len(left) > 0 {
		e.t.Errorf("keys of the row updated after the reorder survived: %q; decoys deleted instead: %q", left, missing(e, decoys))
	}
	if left := e.exists(decoys...); len(left) != len(decoys) {
		e.t.Errorf("keys rendered from the old layout were deleted: present %q of %q", left, decoys)
	}
}

// historyHasGTIDs fails unless every schema version of table recorded beside
// the checkpoint carries a GTID set: in GTID mode the sets order the
// versions, since after a failover the new primary's file/offset say nothing
// about the old one's (a single server cannot show that ordering, so the
// record itself is checked).
func (e *env) historyHasGTIDs(table string) {
	e.t.Helper()
	raw, err := os.ReadFile(e.checkpointPath() + ".schemas")
	if err != nil {
		e.t.Fatal(err)
	}
	var h map[string][]struct {
		Since event.Position `json:"since"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		e.t.Fatal(err)
	}
	if len(h[table]) < 2 {
		e.t.Fatalf("schema history holds %d versions of %s, want the one before the DDL and the DDL's:\n%s", len(h[table]), table, raw)
	}
	for _, v := range h[table] {
		if v.Since.GTID == "" {
			e.t.Errorf("schema version of %s at %v has no GTID set in GTID mode:\n%s", table, v.Since, raw)
		}
	}
}
