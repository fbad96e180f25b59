package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TwemproxyServer is one server of a twemproxy pool: its address, weight
// and name (the name is what ketama hashes).
type TwemproxyServer struct {
	Addr   string
	Weight int
	Name   string
}

// Twemproxy is a private nutcracker (twemproxy) with one Redis pool,
// distribution ketama, hash fnv1a_64, hash_tag "{}", hosts never ejected.
type Twemproxy struct {
	Addr string
	Dir  string
	running
}

// StartTwemproxy starts nutcracker in front of servers and stops it when
// the test ends.
func StartTwemproxy(t testing.TB, servers []TwemproxyServer) *Twemproxy {
	t.Helper()
	bins := requireBinaries(t, "nutcracker", "nutcracker")
	dir, err := makeDir("twemproxy")
	fatalIf(t, err)
	tp := &Twemproxy{Dir: dir}
	t.Cleanup(func() { tp.stopAndRemove(dir) })
	log := filepath.Join(dir, "nutcracker.log")
	startOnFreePort(t, func(port int) error {
		tp.Addr = "127.0.0.1:" + strconv.Itoa(port)
		return tp.start(bins[0], servers, port, log)
	}, func() string { return log })
	return tp
}

func (tp *Twemproxy) start(bin string, servers []TwemproxyServer, port int, log string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "pool:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  hash_tag: \"{}\"\n  redis: true\n  auto_eject_hosts: false\n  servers:\n", port)
	for _, s := range servers {
		fmt.Fprintf(&b, "   - %s:%d %s\n", s.Addr, s.Weight, s.Name)
	}
	conf := filepath.Join(tp.Dir, "nutcracker.yml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return err
	}
	// -s 0 would take the stats port from nobody; a free one is asked for.
	stats, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-c", conf, "-o", log, "-s", strconv.Itoa(stats), "-a", "127.0.0.1")
	p, err := startProc(cmd, filepath.Join(tp.Dir, "nutcracker.out"))
	if err != nil {
		return err
	}
	tp.set(p)
	// nutcracker answers nothing before its servers do; a SET through it
	// shows the whole path works.
	err = waitReady(p, func(ctx context.Context) error { return tp.Set(ctx, "testenv:twemproxy:ready", "1") })
	if err != nil {
		p.kill()
		return fmt.Errorf("testenv: nutcracker on %s: %w\n--- log tail:\n%s\n--- stdout/stderr tail:\n%s",
			tp.Addr, err, tail(log, 20), tail(filepath.Join(tp.Dir, "nutcracker.out"), 10))
	}
	return nil
}

// Set writes key through the proxy. It speaks RESP itself: go-redis opens
// every connection with HELLO, which twemproxy answers by closing it.
func (tp *Twemproxy) Set(ctx context.Context, key, value string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", tp.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cmd := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+OK\r\n" {
		return fmt.Errorf("SET %q through twemproxy: %q", key, line)
	}
	return nil
}
