package replicas_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/sink/replicas"
	"github.com/cachesync/cachesync/source"
)

// Against a real MariaDB replica, in both ways of knowing what it applied
// (GTID set and SHOW SLAVE STATUS): a transaction is pending while the
// replica's SQL thread is stopped, applied once it runs again; the lag
// metrics count it meanwhile; a replica that is gone is reported down.
func TestWatcherRealReplica(t *testing.T) {
	p := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	r := testenv.StartMariaDBReplica(t, p)
	p.Exec(t, "CREATE DATABASE w")
	p.Exec(t, "CREATE TABLE w.x (id INT PRIMARY KEY, v VARCHAR(16)) CHARACTER SET utf8mb4")
	r.WaitApplied(t, p)
	for _, gtid := range []bool{true, false} {
		name := map[bool]string{true: "gtid", false: "position"}[gtid]
		t.Run(name, func(t *testing.T) {
			m := metrics.New(nil)
			var mu sync.Mutex
			states := map[bool]int{}
			w := replicas.New(replicas.Options{
				Replicas: []config.ReplicaConfig{{Name: "r-" + name, Addr: r.Addr, User: "root"}},
				Source:   config.SourceConfig{Flavor: "mariadb", Charset: "utf8mb4"}, GTID: gtid,
				Dial: func(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
					return source.Connect(ctx, src)
				},
				OnState: func(_ string, up bool, _ string) {
					mu.Lock()
					states[up]++
					mu.Unlock()
				},
			}, zaptest.NewLogger(t), &m.Replicas)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			defer func() { cancel(); <-done }()

			r.StopApplying(t)
			p.Exec(t, "INSERT INTO w.x VALUES (?, 'ünï🙂')", map[bool]int{true: 1, false: 2}[gtid])
			file, pos := p.MasterStatus(t)
			b := &event.Batch{Pos: event.Position{File: file, Pos: pos}, GTID: p.GTIDPos(t, false)}
			w.Note(b)
			waitFor(t, "the watcher's first answer", func() bool { return testutil.ToFloat64(m.Replicas.Up.WithLabelValues("r-"+name)) == 1 })
			<-w.Changed()
			if got := w.Pending(b); len(got) != 1 || got[0] != "r-"+name {
				t.Fatalf("Pending with the SQL thread stopped = %v, want [r-%s]", got, name)
			}
			if n := testutil.ToFloat64(m.Replicas.LagTransactions.WithLabelValues("r-" + name)); n != 1 {
				t.Errorf("lag in transactions = %v, want 1", n)
			}
			r.StartApplying(t)
			waitFor(t, "the transaction applied", func() bool { return w.Pending(b) == nil })
			waitFor(t, "lag back to 0", func() bool {
				return testutil.ToFloat64(m.Replicas.LagTransactions.WithLabelValues("r-"+name)) == 0
			})
			mu.Lock()
			defer mu.Unlock()
			if states[false] != 0 {
				t.Errorf("replica reported down %d times while it answered", states[false])
			}
		})
	}
	// Gone: reported down, and what it applied before still counts.
	m := metrics.New(nil)
	w := replicas.New(replicas.Options{
		Replicas: []config.ReplicaConfig{{Name: "gone", Addr: r.Addr, User: "root"}},
		Source:   config.SourceConfig{Flavor: "mariadb", Charset: "utf8mb4", ConnectTimeout: config.Duration(time.Second)}, GTID: true,
		Dial: func(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
			return source.Connect(ctx, src)
		},
	}, zaptest.NewLogger(t), &m.Replicas)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	old := &event.Batch{GTID: p.GTIDPos(t, false)}
	waitFor(t, "the applied transaction seen", func() bool { return w.Pending(old) == nil })
	r.Stop(t)
	waitFor(t, "the replica reported down", func() bool { return len(w.Down()) == 1 })
	if w.Pending(old) != nil {
		t.Error("a transaction the replica applied before it went down counts as pending")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Check (config check --online) passes a real replica in both ways of
// reading what it applied, and names each listed server that is not one:
// a server with nothing applied (the primary itself), and a wrong password.
func TestCheck(t *testing.T) {
	p := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	r := testenv.StartMariaDBReplica(t, p)
	p.Exec(t, "CREATE DATABASE c")
	r.WaitApplied(t, p)
	dial := func(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
		return source.Connect(ctx, src)
	}
	src := config.SourceConfig{Flavor: "mariadb", Charset: "utf8mb4"}
	for _, gtid := range []bool{true, false} {
		ok := replicas.Check(context.Background(), replicas.Options{
			Replicas: []config.ReplicaConfig{{Name: "réplica-1", Addr: r.Addr, User: "root"}}, Source: src, GTID: gtid, Dial: dial})
		if len(ok) != 0 {
			t.Errorf("gtid=%v: a working replica: %v", gtid, ok)
		}
		bad := replicas.Check(context.Background(), replicas.Options{
			Replicas: []config.ReplicaConfig{
				{Name: "not-a-replica", Addr: p.Addr, User: "root"},
				{Name: "wrong-password", Addr: r.Addr, User: "root", Password: "nope"},
			}, Source: src, GTID: gtid, Dial: dial})
		if len(bad) != 2 {
			t.Fatalf("gtid=%v: want 2 problems, got %d: %v", gtid, len(bad), bad)
		}
		for i, want := range []string{"replicas[0] (not-a-replica)", "replicas[1] (wrong-password)"} {
			if !strings.Contains(bad[i].Error(), want) {
				t.Errorf("gtid=%v: problem %d %q does not name %s", gtid, i, bad[i], want)
			}
		}
	}
}
