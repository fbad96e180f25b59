package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Redis behind Sentinel (redis.master_name): a master (the env's Redis), one
// replica and one sentinel, all real processes; the config reaches Redis only
// through the sentinel.

// newSentinelEnv is newEnv with usersSchema and usersRules whose redis
// section names the sentinel and its master, "cache". The sentinel's log is
// printed if the test fails.
func newSentinelEnv(t *testing.T) (e *env, replica *testenv.Redis, s *testenv.Sentinel) {
	t.Helper()
	e = newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
	replica = testenv.StartReplica(t, e.redis)
	s = testenv.StartSentinel(t, e.redis, "cache", replica)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sentinel log:\n%s", s.Log(40))
		}
	})
	e.editConfig("redis: {addrs: ["+e.redis.Addr+"]}", "redis: {addrs: ["+s.Addr+"], master_name: cache}")
	return e, replica, s
}

// The master is killed: cachesync follows the sentinel to the promoted
// replica. Changes made while there is no master are invalidated on the new
// one (nothing lost), as are later changes, and the process keeps running.
func TestRunSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, replica, s := newSentinelEnv(t)
	master := e.redis
	e.seedUsers(40)
	p := e.start()

	// Before the failover: insert and update, keys on the first master.
	e.setKeys("user:1001", "user:email:new@x.io")
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1001, 'new@x.io', 'New')")
	e.waitGone(10*time.Second, "user:1001", "user:email:new@x.io")
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'before' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)

	// Keys of the rows that will change while there is no master, and of a
	// row nobody changes, cached on the master and known to be on the
	// replica (WAIT) before the kill: the replica serves them once promoted.
	during := seq(2, 11)
	control := userKeys(40)
	e.setKeys(append(userKeysOf(during...), control...)...)
	if n, err := e.rdb.Wait(ctx, 1, 10*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v: the keys did not reach the replica", n, err)
	}

	master.Kill(t)
	killed := time.Now()
	for _, q := range e.renames("during", during...) {
		e.db.Exec(t, q)
	}
	promoted := s.WaitFailover(t, 30*time.Second, replica)
	t.Logf("sentinel promoted %s %v after the kill", promoted.Addr, time.Since(killed).Round(time.Millisecond))
	e.rdb = promoted.Client(t) // setKeys, waitGone and exists now use the new master
	e.waitGone(30*time.Second, userKeysOf(during...)...)
	t.Logf("changes made without a master invalidated on the new one %v after the kill (deletes failed meanwhile: %v)",
		time.Since(killed).Round(time.Millisecond), p.logHas("redis delete failed; retrying"))

	// After the failover: keys cached on the new master, then rows changed
	// (updates, an insert and a delete).
	later := seq(12, 21)
	afterKeys := append(userKeysOf(later...), "user:1002", "user:email:newer@x.io", "user:1001", "user:email:new@x.io")
	e.setKeys(afterKeys...)
	for _, q := range e.renames("after", later...) {
		e.db.Exec(t, q)
	}
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1002, 'newer@x.io', 'Newer')")
	e.exec("DELETE FROM DB.users WHERE id = 1001")
	e.waitGone(30*time.Second, afterKeys...)
	if left := e.exists(control...); len(left) != len(control) {
		t.Errorf("keys of a row nobody changed were deleted; present %q of %q", left, control)
	}

	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}
}

// A switchover (SENTINEL FAILOVER) while the master keeps running: the old
// master still takes writes for a while before the sentinel turns it into a
// replica, so a client that missed the switch would delete there, without
// an error, and leave the keys on the new master. The second delete is off,
// so the one delete of each change must reach the new master.
func TestRunSentinelSwitchover(t *testing.T) {
	t.Parallel()
	e, replica, s := newSentinelEnv(t)
	e.editConfig("second_delay: 200ms", "second_delay: 0s")
	oldClient := e.rdb
	e.seedUsers(20)
	p := e.start()
	// Connections to the first master are open and in use.
	e.setKeys(userKeys(1)...)
	e.exec("UPDATE DB.users SET name = 'before' WHERE id = 1")
	e.waitGone(10*time.Second, userKeys(1)...)

	s.Failover(t)
	began := time.Now()
	promoted := s.WaitFailover(t, 30*time.Second, replica)
	t.Logf("switchover to %s took %v", promoted.Addr, time.Since(began).Round(time.Millisecond))
	e.rdb = promoted.Client(t)
	ids := seq(2, 11)
	e.setKeys(userKeysOf(ids...)...)
	for _, q := range e.renames("after", ids...) {
		e.db.Exec(t, q)
	}
	e.waitGone(30*time.Second, userKeysOf(ids...)...)
	role := "?"
	if info, err := oldClient.InfoMap(context.Background(), "replication").Result(); err == nil {
		role = info["Replication"]["role"]
	}
	t.Logf("changes invalidated on the new master; the old master (still running) says role %s", role)

	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
	}
}

// A master and a sentinel that each require their own password: the
// sentinel's comes from redis.sentinel_password_file, the master's from
// redis.password. Invalidation works; a wrong sentinel password is refused
// naming the key to fix, and neither password is ever printed.
func TestRunSentinelWithPasswords(t *testing.T) {
	t.Parallel()
	const masterPW, sentinelPW, wrongPW = "Ma-ster-SECRET-51", "Sen-tinel-SECRET-72", "Wr-ong-SECRET-93"
	e := newEnvRedis(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "", testenv.RedisOptions{Password: masterPW})
	replica := testenv.StartReplica(t, e.redis)
	s := testenv.StartSentinelOpts(t, e.redis, "cache", testenv.SentinelOptions{Password: sentinelPW}, replica)
	pwFile := filepath.Join(e.dir, "sentinel.pw")
	if err := os.WriteFile(pwFile, []byte(sentinelPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.editConfig("redis: {addrs: ["+e.redis.Addr+"]}",
		`redis: {addrs: [`+s.Addr+`], master_name: cache, password: "${CS_REDIS_PW}", sentinel_password_file: `+pwFile+`}`)
	env := []string{"CS_REDIS_PW=" + masterPW}
	secrets := []string{masterPW, sentinelPW, wrongPW}

	p := e.startEnv(env...)
	e.setKeys("user:1", "user:email:u1@x.io")
	e.exec("INSERT INTO DB.users (id, email) VALUES (1, 'u1@x.io')")
	e.waitGone(20*time.Second, "user:1", "user:email:u1@x.io")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if s := containsAny(p.out.String(), secrets); s != "" {
		t.Fatalf("a password (%s) is in the log:\n%s", s, p.out.String())
	}

	if err := os.WriteFile(pwFile, []byte(wrongPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, exitLimit, env, "config", "check", "--online", "--config", e.cfg)
	wantFailure(t, r, []string{"redis.sentinel_password"}, secrets...)
}
