package testenv_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func variable(t *testing.T, db *testenv.MariaDB, name string) string {
	t.Helper()
	r := db.Exec(t, "SELECT @@"+name)
	v, err := r.GetString(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMariaDBBinlogSettings(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ServerID: 7})
	want := map[string]string{
		"log_bin": "1", "binlog_format": "ROW", "binlog_row_image": "FULL",
		"binlog_row_metadata": "FULL", "server_id": "7", "port": db.Addr[strings.LastIndex(db.Addr, ":")+1:],
	}
	for name, v := range want {
		if got := variable(t, db, name); got != v {
			t.Errorf("@@%s = %q, want %q", name, got, v)
		}
	}
	if n := db.Exec(t, "SELECT COUNT(*) FROM mysql.user WHERE user = ''").Values[0][0].AsInt64(); n != 0 {
		t.Errorf("%d anonymous accounts left; they shadow 'u'@'%%' on 127.0.0.1", n)
	}
	file, pos := db.MasterStatus(t)
	db.Exec(t, "CREATE DATABASE d")
	if file2, pos2 := db.MasterStatus(t); file2 == file && pos2 <= pos {
		t.Errorf("binlog did not move: %s:%d then %s:%d", file, pos, file2, pos2)
	}
}

func TestMariaDBExtraConfig(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"binlog_format = STATEMENT"}})
	if got := variable(t, db, "binlog_format"); got != "STATEMENT" {
		t.Errorf("binlog_format = %q, want STATEMENT from ExtraConfig", got)
	}
}

func TestMariaDBStopStartKeepsData(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	addr, pid := db.Addr, db.PID()
	db.Exec(t, "CREATE DATABASE d")
	db.Exec(t, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10))")
	db.Exec(t, "INSERT INTO d.t VALUES (?, ?)", 1, "one")

	db.Stop(t)
	if err := db.ExecErr("SELECT 1"); err == nil {
		t.Fatal("query succeeded on a stopped server")
	}
	db.Start(t)
	db.Exec(t, "INSERT INTO d.t VALUES (2, 'two')")
	db.Kill(t)
	db.Start(t)

	if db.Addr != addr || db.PID() == pid {
		t.Errorf("after restarts: addr %s pid %d, want addr %s and a new pid (was %d)", db.Addr, db.PID(), addr, pid)
	}
	if n := db.Exec(t, "SELECT COUNT(*) FROM d.t").Values[0][0].AsInt64(); n != 2 {
		t.Errorf("%d rows after Stop/Start and Kill/Start, want 2", n)
	}
}

func TestMariaDBPauseResume(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	db.Pause(t)
	short := func(c *client.Conn) error { c.ReadTimeout = 300 * time.Millisecond; return nil }
	if c, err := client.Connect(db.Addr, "root", "", "", short); err == nil {
		c.Close()
		t.Fatal("a paused server answered")
	}
	db.Resume(t)
	db.Exec(t, "SELECT 1")
}

func TestMariaDBCreateUser(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	name := db.NewDatabase(t)
	user := "u_" + name[len(name)-8:]
	db.CreateUser(t, user, "s3cr'et", "SELECT ON `"+name+"`.*")
	t.Cleanup(func() {
		for _, h := range []string{"localhost", "127.0.0.1", "%"} {
			db.Exec(t, "DROP USER '"+user+"'@'"+h+"'")
		}
	})
	c, err := client.Connect(db.Addr, user, "s3cr'et", name)
	if err != nil {
		t.Fatalf("new user cannot log in over TCP: %v", err)
	}
	defer c.Close()
	if _, err := c.Execute("CREATE TABLE x (id INT)"); err == nil {
		t.Error("CREATE TABLE succeeded with SELECT only")
	}
	if _, err := client.Connect(db.Addr, user, "wrong", name); err == nil {
		t.Error("logged in with a wrong password")
	}
}

func TestSharedMariaDB(t *testing.T) {
	t.Parallel()
	a, b := testenv.SharedMariaDB(t), testenv.SharedMariaDB(t)
	if a != b {
		t.Fatal("SharedMariaDB started two servers")
	}
	n1, n2 := a.NewDatabase(t), a.NewDatabase(t)
	if n1 == n2 {
		t.Fatalf("NewDatabase returned %q twice", n1)
	}
	a.Exec(t, "CREATE TABLE `"+n1+"`.t (id INT PRIMARY KEY)")
	if id1, id2 := a.ReplicaServerID(), a.ReplicaServerID(); id1 == id2 || id1 == 1 {
		t.Errorf("ReplicaServerID gave %d then %d", id1, id2)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := testenv.StartRedis(t, testenv.RedisOptions{NotifyKeyspaceEvents: "Eg"})
	c := r.Client(t)
	sub := c.Subscribe(ctx, "__keyevent@0__:del")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	if err := c.Set(ctx, "user:1", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "user:1").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-sub.Channel():
		if msg.Payload != "user:1" {
			t.Errorf("del event for %q, want user:1", msg.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no keyevent for DEL")
	}

	addr := r.Addr
	c.Set(ctx, "k", "v", 0)
	r.Stop(t)
	if conn, err := net.Dial("tcp", r.Addr); err == nil {
		conn.Close()
		t.Fatal("a stopped server accepted a connection")
	}
	r.Start(t)
	if r.Addr != addr {
		t.Errorf("restarted on %s, want %s", r.Addr, addr)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after restart = %d, %v; want 0 (persistence is off)", n, err)
	}
	r.Kill(t)
	r.Start(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("ping after Kill/Start: %v", err)
	}
}

func TestRequireServices(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "0": false, "": false} {
		t.Setenv(testenv.EnvRequire, v)
		if got := testenv.RequireServices(); got != want {
			t.Errorf("%s=%q: RequireServices() = %v, want %v", testenv.EnvRequire, v, got, want)
		}
	}
}
