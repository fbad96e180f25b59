package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// The server's binlog settings changed while run runs (start-up refuses
// them, a later SET GLOBAL does not ask): the sessions opened after it write
// statements, or partial row images, that cachesync cannot turn into keys.
// Each test has its own server, since SET GLOBAL reaches every session.

// binlogModeEnv is a private server with one mapped row cached, cachesync
// streaming, and the rows of id 1 and 2.
func binlogModeEnv(t *testing.T, policy string) (*env, *proc) {
	t.Helper()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	if policy != "" {
		e.rewriteConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, on_statement_dml: "+policy+"}")
	}
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io'), (2, 'c@x.io')")
	e.enableMetrics()
	p := e.start()
	e.setKeys("user:2")
	e.exec("UPDATE DB.users SET name = 'row' WHERE id = 2") // ROW: the baseline works
	e.waitGone(10*time.Second, "user:2")
	return e, p
}

// A statement-format UPDATE of a mapped table stops run before the
// checkpoint passes it, naming the table, the position and the fix.
func TestRunStatementDMLFails(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "")
	before := masterPos(t, e.db)
	e.db.Exec(t, "SET GLOBAL binlog_format = 'STATEMENT'")
	e.setKeys("user:1", "user:email:b@x.io")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	after := masterPos(t, e.db)
	if !e.waitExit(p, exitLimit) {
		t.Fatalf("cachesync kept running after a statement-format UPDATE of a mapped table:\n%s", p.out.String())
	}
	wantFailure(t, p.result(), []string{e.name + ".users", "binlog_format", "ROW", "backfill", after.File})
	if strings.Contains(p.out.String(), "reconnecting from the last transaction boundary") {
		t.Errorf("announced a reconnect before a fatal exit, which will not come:\n%.5000s", p.out.String())
	}
	if cp, _ := e.readCheckpoint(); cp.cmp(after) >= 0 || cp.cmp(before) < 0 {
		t.Errorf("checkpoint %v: want at or after %v and before the statement's end %v", cp, before, after)
	}
}

// on_statement_dml: backfill invalidates the affected table by scanning it,
// counts the statement, and streams on.
func TestRunStatementDMLBackfill(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "backfill")
	e.db.Exec(t, "SET GLOBAL binlog_format = 'MIXED'")
	e.setKeys("user:1", "user:email:b@x.io", "user:2")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitGone(20*time.Second, "user:1", "user:email:b@x.io", "user:2")
	e.waitMetric(p, 10*time.Second, `cachesync_binlog_statement_dml_total{table="`+e.name+`.users"}`, 1)
	p.alive(t)
	if !p.logHas("binlog_format") {
		t.Errorf("no error naming binlog_format in the log:\n%s", p.out.String())
	}
	e.waitLog(p, "tables invalidated by backfill") // its deletes are done: none can remove user:2 below
	e.db.Exec(t, "SET GLOBAL binlog_format = 'ROW'")
	e.setKeys("user:2")
	e.exec("UPDATE DB.users SET name = 'again' WHERE id = 2")
	e.waitGone(10*time.Second, "user:2")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// A statement on a table no rule maps is not an invalidation lost: counted
// nowhere, run goes on.
func TestRunStatementDMLUnmappedTableIgnored(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "")
	e.exec("CREATE TABLE DB.other (id INT PRIMARY KEY, v INT)")
	e.db.Exec(t, "SET GLOBAL binlog_format = 'STATEMENT'")
	e.exec("INSERT INTO DB.other VALUES (1, 1)")
	e.db.Exec(t, "SET GLOBAL binlog_format = 'ROW'")
	end := masterPos(t, e.db)
	e.waitCheckpoint(15*time.Second, end)
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// binlog_row_image=MINIMAL: the before image has only the primary key, so
// the old email's key cannot be rendered. run stops instead of taking the
// absent email for NULL.
func TestRunMinimalRowImageFails(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "")
	before := masterPos(t, e.db)
	e.db.Exec(t, "SET GLOBAL binlog_row_image = 'MINIMAL'")
	e.setKeys("user:1", "user:email:a@x.io")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	after := masterPos(t, e.db)
	if !e.waitExit(p, exitLimit) {
		t.Fatalf("cachesync kept running after a MINIMAL row image of a mapped table:\n%s", p.out.String())
	}
	wantFailure(t, p.result(), []string{e.name + ".users", "binlog_row_image", "FULL", "email", after.File})
	if cp, _ := e.readCheckpoint(); cp.cmp(after) >= 0 || cp.cmp(before) < 0 {
		t.Errorf("checkpoint %v: want at or after %v and before the row's end %v", cp, before, after)
	}
}

// on_statement_dml: backfill with a MINIMAL image: the table is rescanned,
// the event counted, and the absent email is not counted as a NULL.
func TestRunMinimalRowImageBackfill(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "backfill")
	e.db.Exec(t, "SET GLOBAL binlog_row_image = 'MINIMAL'")
	e.setKeys("user:1", "user:email:b@x.io", "user:2")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitGone(20*time.Second, "user:1", "user:email:b@x.io", "user:2")
	e.waitMetric(p, 10*time.Second, `cachesync_binlog_partial_row_images_total{table="`+e.name+`.users"}`, 1)
	e.waitLog(p, "tables invalidated by backfill") // its deletes are done: none can remove user:2 below
	e.db.Exec(t, "SET GLOBAL binlog_row_image = 'FULL'")
	e.setKeys("user:2")
	e.exec("UPDATE DB.users SET name = 'later' WHERE id = 2") // read after the MINIMAL event is done
	e.waitGone(10*time.Second, "user:2")
	if n := e.metric(p, `cachesync_keys_null_skipped_total{table="`+e.name+`.users",template="user:email:{email}"}`); n != 0 {
		t.Errorf("absent columns counted as NULL: keys_null_skipped %v", n)
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// binlog_row_image=NOBLOB leaves out only BLOB/TEXT columns that did not
// change: rules that read none of them lose nothing, and run goes on.
func TestRunNoblobRowImageWithoutBlobTemplates(t *testing.T) {
	t.Parallel()
	e, p := binlogModeEnv(t, "")
	e.exec("ALTER TABLE DB.users ADD COLUMN bio TEXT")
	e.db.Exec(t, "SET GLOBAL binlog_row_image = 'NOBLOB'")
	e.setKeys("user:1", "user:email:a@x.io", "user:email:b@x.io")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1", "user:email:a@x.io", "user:email:b@x.io")
	e.setKeys("user:2")
	e.exec("DELETE FROM DB.users WHERE id = 2")
	e.waitGone(10*time.Second, "user:2")
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// A MINIMAL UPDATE's after image lacks the unchanged columns; those come
// from the before image. Only what the before image lacks is an error: a
// rule reading the primary key alone loses nothing.
func TestRunMinimalRowImagePrimaryKeyTemplate(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, []string{usersSchema}, "  - table: DB.users\n    keys: [\"user:{id}\"]\n", "")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'a@x.io')")
	p := e.start()
	e.db.Exec(t, "SET GLOBAL binlog_row_image = 'MINIMAL'")
	e.setKeys("user:1")
	e.exec("UPDATE DB.users SET email = 'b@x.io' WHERE id = 1")
	e.waitGone(10*time.Second, "user:1")
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
