package main

import (
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// An address that accepts TCP and never answers (a wrong port behind a
// proxy, a frozen server) fails each connection attempt after its
// connect_timeout, instead of holding config check or run for minutes.

// muteListener accepts connections on a loopback port and never writes;
// it returns the address. Everything closes when the test ends.
func muteListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestMuteAddressesFailWithinConnectTimeout(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	cases := []struct {
		name string
		edit func(e *env, mute string)
		want []string
	}{
		{"mysql", func(e *env, mute string) {
			e.editConfig("addr: "+db.Addr+",", "addr: "+mute+", connect_timeout: 1s,")
		}, []string{"MUTE", "source.connect_timeout"}},
		{"redis", func(e *env, mute string) {
			e.editConfig("redis: {addrs: ["+e.redis.Addr+"]}", "redis: {addrs: ["+mute+"]}")
		}, []string{"MUTE"}},
		{"kafka", func(e *env, mute string) {
			e.editConfig("rules:", fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, connect_timeout: 1s}
rules:`, mute, kafkaTopic))
		}, []string{"MUTE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, db, []string{usersSchema}, usersRules, "")
			mute := muteListener(t)
			c.edit(e, mute)
			want := append([]string{mute}, c.want[1:]...)
			// The limit is far above the bound (a few connect_timeouts) and
			// below what an unbounded wait takes (a minute for MySQL's
			// handshake, 15s for Kafka's metadata before the bound).
			limit := 25 * time.Second
			if c.name == "kafka" {
				limit = 12 * time.Second
			}
			r := runCLI(t, limit, nil, "config", "check", "--online", "--config", e.cfg)
			wantFailure(t, r, want)
			if c.name == "mysql" {
				r = runCLI(t, 25*time.Second, nil, "run", "--config", e.cfg)
				wantFailure(t, r, want)
			}
		})
	}
}

// SIGTERM during a handshake with a mute source ends config check at once
// (exit non-zero: the check did not complete).
func TestCheckStopsOnSignalDuringHandshake(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e := newEnv(t, db, []string{usersSchema}, usersRules, "")
	mute := muteListener(t)
	e.editConfig("addr: "+db.Addr+",", "addr: "+mute+", connect_timeout: 60s,")
	p := e.spawn(exec.Command(binPath, "config", "check", "--online", "--config", e.cfg))
	time.Sleep(time.Second) // in the handshake by now
	p.alive(t)
	if code := p.sigterm(t, 20*time.Second); code == 0 {
		t.Errorf("exit 0 from a check that was interrupted")
	}
}
