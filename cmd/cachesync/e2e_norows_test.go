package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Changes the binlog holds no rows for: TRUNCATE (one query event) and the
// child rows ON DELETE CASCADE removes (only the parent's delete is logged).

const truncRules = `  - table: DB.users
    keys: ["user:{id}", "user:email:{email}"]
    on_truncate: POLICY
`

// truncEnv streams users with on_truncate: policy, rows 1 and 2 in the
// table, their keys and look-alikes of other rules cached.
func truncEnv(t *testing.T, policy, extra string) (*env, *proc, []string, []string) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema, pingsSchema}, strings.Replace(truncRules, "POLICY", policy, 1)+pingsRules, extra)
	e.enableMetrics()
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann'), (2, 'ü😀@x.io', 'Bob')")
	p := e.start()
	mine := append(keyRange("user:%d", 1, 800), "user:email:a@x.io", "user:email:ü😀@x.io", "user:email:")
	others := []string{"users:1", "user", "order:1", "ping:9", "xuser:1", "usér:1"}
	e.setKeys(mine...)
	e.setKeys(others...)
	return e, p, mine, others
}

// on_truncate: scan deletes every key the templates can produce on the
// master, keeps other keys, and the checkpoint does not pass the TRUNCATE
// while keys of the scan are still there.
func TestRunTruncateScan(t *testing.T) {
	t.Parallel()
	// 200 keys/s: the 803 keys take seconds, long enough to look at the
	// checkpoint while the scan runs.
	e, p, mine, others := truncEnv(t, "scan", "")
	e.editConfig("delete: {second_delay: 200ms}", "delete: {second_delay: 200ms, scan_rate: 200}")
	p.stop(t)
	p = e.start()
	e.ping(1)
	e.setKeys(mine...)
	e.exec("TRUNCATE TABLE DB.users")
	end := masterPos(t, e.db)
	e.waitLog(p, "scanning Redis for the keys")
	for samples := 0; len(e.exists(mine[0], mine[len(mine)-1])) > 0 && samples < 2000; samples++ {
		if cp, ok := e.readCheckpoint(); ok && cp.cmp(end) >= 0 && len(e.exists(mine[0], mine[len(mine)-1])) > 0 {
			t.Fatalf("checkpoint %v passed the TRUNCATE (ends %v) while its scan had keys left to delete", cp, end)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.waitGone(30*time.Second, mine...)
	e.waitCheckpoint(30*time.Second, end)
	if left := e.exists(others...); len(left) != len(others) {
		t.Errorf("the scan deleted keys no template of the rule produces: present %q of %q", left, others)
	}
	e.waitMetric(p, 10*time.Second, `cachesync_truncates_total{action="scan",table="`+e.name+`.users"}`, 1)
	if n := e.metric(p, `cachesync_scan_deleted_keys_total{reason="truncate",table="`+e.name+`.users"}`); n != float64(len(mine)) {
		t.Errorf("scan_deleted_keys_total %v, want %d", n, len(mine))
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// on_truncate: warn (the default) keeps the keys and says so at error
// level, naming the table and the way out, and counts it.
func TestRunTruncateWarn(t *testing.T) {
	t.Parallel()
	e, p, mine, _ := truncEnv(t, "warn", "")
	e.exec("TRUNCATE TABLE DB.users")
	e.ping(1)
	e.waitMetric(p, 10*time.Second, `cachesync_truncates_total{action="warn",table="`+e.name+`.users"}`, 1)
	if !p.logHas(`"level":"error"`, "TRUNCATE of a mapped table", e.name+".users", "on_truncate: scan") {
		t.Errorf("no error-level log naming the table and on_truncate: scan:\n%s", p.out.String())
	}
	if left := e.exists(mine...); len(left) != len(mine) {
		t.Errorf("on_truncate: warn deleted keys: %d of %d left", len(left), len(mine))
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

const cascadeSchemaUsers = "CREATE TABLE DB.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191)) ENGINE=InnoDB"
const cascadeSchemaOrders = "CREATE TABLE DB.orders (id BIGINT UNSIGNED PRIMARY KEY, user_id BIGINT UNSIGNED NOT NULL, " +
	"FOREIGN KEY (user_id) REFERENCES DB.users (id) ON DELETE CASCADE) ENGINE=InnoDB"

// cascadeRules: orders' keys, and users naming them in a cascade entry.
func cascadeRules(entry string) string {
	return fmt.Sprintf(`  - table: DB.users
    keys: ["user:{id}"]
    cascade: [%s]
  - table: DB.orders
    name: orders
    keys: ["order:{id}", "user:{user_id}:orders"]
`, entry)
}

func cascadeEnv(t *testing.T, entry string) (*env, *proc) {
	e := newEnv(t, testenv.SharedMariaDB(t), []string{cascadeSchemaUsers, cascadeSchemaOrders, pingsSchema}, cascadeRules(entry)+pingsRules, "")
	e.enableMetrics()
	e.exec("INSERT INTO DB.users VALUES (1, 'a@x.io'), (2, 'b@x.io')")
	e.exec("INSERT INTO DB.orders VALUES (10, 1), (11, 1), (20, 2)")
	return e, e.start()
}

// cascade keys: the children's keys rendered from the parent's deleted row
// go; what cannot be rendered from it (order:{id}) is the documented cost.
func TestRunCascadeKeys(t *testing.T) {
	t.Parallel()
	e, p := cascadeEnv(t, `{rule: orders, keys: ["user:{id}:orders"]}`)
	e.setKeys("user:1", "user:1:orders", "user:2", "user:2:orders", "order:10", "order:20")
	e.exec("DELETE FROM DB.users WHERE id = 1") // orders 10 and 11 go by the foreign key
	e.waitGone(10*time.Second, "user:1", "user:1:orders")
	e.ping(1)
	if left := e.exists("user:2", "user:2:orders", "order:20"); len(left) != 3 {
		t.Errorf("keys of user 2 deleted by user 1's cascade: present %q", left)
	}
	if n := e.metric(p, `cachesync_cascade_keys_total{table="`+e.name+`.users"}`); n != 1 {
		t.Errorf("cascade_keys_total %v, want 1", n)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// cascade scan: every key the child rule can produce goes (of every user:
// the scan cannot tell which belonged to the deleted row), others stay.
func TestRunCascadeScan(t *testing.T) {
	t.Parallel()
	e, p := cascadeEnv(t, `{rule: orders, scan: true}`)
	children := []string{"order:10", "order:11", "user:1:orders", "order:20", "user:2:orders"}
	e.setKeys(children...)
	e.setKeys("user:2", "product:1", "orders:1")
	e.exec("DELETE FROM DB.users WHERE id = 1")
	e.waitGone(10*time.Second, children...)
	e.ping(1)
	if left := e.exists("user:2", "product:1", "orders:1"); len(left) != 3 {
		t.Errorf("the cascade scan deleted keys of no child template: present %q", left)
	}
	e.waitMetric(p, 10*time.Second, `cachesync_scan_deleted_keys_total{reason="cascade",table="`+e.name+`.users"}`, float64(len(children)))
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// A scan that fails (Redis holds writes longer than the client's read
// timeout) is not a scan done: the stream resumes from the boundary before
// the TRUNCATE, scans again, and the checkpoint passes it only then.
func TestRunTruncateScanRedisStalls(t *testing.T) {
	t.Parallel()
	e, p, mine, others := truncEnv(t, "scan", "")
	e.ping(1)
	if err := e.rdb.Do(context.Background(), "CLIENT", "PAUSE", 5000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	e.exec("TRUNCATE TABLE DB.users")
	end := masterPos(t, e.db)
	deadline := time.Now().Add(30 * time.Second)
	for len(e.exists(mine[0])) > 0 && time.Now().Before(deadline) {
		if cp, ok := e.readCheckpoint(); ok && cp.cmp(end) >= 0 && len(e.exists(mine[0])) > 0 {
			t.Fatalf("checkpoint %v passed the TRUNCATE (ends %v) before its scan deleted the keys", cp, end)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.waitGone(30*time.Second, mine...)
	e.waitCheckpoint(30*time.Second, end)
	if !p.logHas("truncate scan of " + e.name + ".users") {
		t.Errorf("no log of the failed scan:\n%s", p.out.String())
	}
	if left := e.exists(others...); len(left) != len(others) {
		t.Errorf("the scan deleted keys no template of the rule produces: present %q of %q", left, others)
	}
	p.alive(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// on_truncate: scan against a three-master Redis Cluster: the keys of the
// rule, spread over every master's slots, all go; others stay.
func TestRunTruncateScanCluster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, strings.Replace(truncRules, "POLICY", "scan", 1), "")
	cl := testenv.StartRedisCluster(t, 3)
	e.rewriteConfig("redis: {addrs: ["+e.redis.Addr+"]}", "redis: {addrs: ["+strings.Join(cl.Addrs, ", ")+"]}")
	c := cl.Client(t)
	ctx := context.Background()
	e.exec("INSERT INTO DB.users (id, email, name) VALUES (1, 'a@x.io', 'Ann')")
	p := e.start()
	mine := append(keyRange("user:%d", 1, 600), "user:email:ü😀@x.io", "user:{7}:profile")
	others := []string{"users:1", "order:1", "xuser:1", "{user}:1"}
	for _, k := range append(append([]string{}, mine...), others...) {
		if err := c.Set(ctx, k, "cached", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e.exec("TRUNCATE TABLE DB.users")
	end := masterPos(t, e.db)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		for _, k := range mine {
			if c.Exists(ctx, k).Val() == 1 {
				left = append(left, k)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys of the rule left in the cluster after the TRUNCATE, e.g. %q:\n%s", len(left), left[:min(5, len(left))], p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.waitCheckpoint(30*time.Second, end)
	for _, k := range others {
		if c.Exists(ctx, k).Val() == 0 {
			t.Errorf("%q deleted: no template of the rule produces it", k)
		}
	}
	if !p.logHas(`"masters":3`) {
		t.Errorf("the scan did not report three masters:\n%s", p.out.String())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
