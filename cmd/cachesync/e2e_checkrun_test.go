package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

// What `config check --online` passed and `run` then failed on: each is
// found by the check, and run fails at once, naming the key and the fix.

func wantCheckFailure(t *testing.T, e *env, want ...string) {
	t.Helper()
	r := runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg)
	wantFailure(t, r, want)
}

// The checkpoint's binlog is no longer on the server.
func TestConfigCheckFindsCheckpointGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	e.writeCheckpoint(`{"version":1,"file":"binlog.000099","pos":4}` + "\n")
	wantCheckFailure(t, e, "checkpoint", "binlog.000099:4", "no longer has", "backfill")
}

// redis.addrs names a read-only replica: every delete would fail READONLY.
func TestConfigCheckAndRunRefuseRedisReplica(t *testing.T) {
	t.Parallel()
	primary := testenv.StartRedis(t)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	host, port, _ := strings.Cut(primary.Addr, ":")
	if err := e.rdb.Do(context.Background(), "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"redis.addrs", e.redis.Addr, "replica", "primary"}
	wantCheckFailure(t, e, want...)
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, want)
}

// checkpoint.path in a directory that does not exist: no save could work.
func TestConfigCheckAndRunRefuseMissingCheckpointDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	missing := filepath.Join(e.dir, "no", "such", "dir", "cachesync.pos")
	e.editConfig(e.checkpointPath(), missing)
	want := []string{"checkpoint.path", filepath.Dir(missing), "does not exist"}
	wantCheckFailure(t, e, want...)
	r := runCLI(t, exitLimit, nil, "run", "--config", e.cfg)
	wantFailure(t, r, want)
}

// A write-behind rule, and a source user without INSERT/UPDATE/DELETE on
// its table or CREATE on cachesync_wb_offsets: the flusher could not write.
func TestConfigCheckFindsWriteBehindPrivileges(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{wbSchema}, wbRules, "")
	user := "cs_" + strings.TrimPrefix(e.name, "t_") + "_wb"
	db.CreateUser(t, user, "pw", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "SELECT ON `"+e.name+"`.*")
	e.editConfig("user: root,", "user: "+user+", password_file: "+e.passwordFile("pw")+",")
	wantCheckFailure(t, e, "write-behind", e.name+".items", "INSERT", "UPDATE", "DELETE", "CREATE", "cachesync_wb_offsets", "GRANT")
}
