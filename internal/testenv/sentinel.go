package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel timings: short, so that a test sees a failover within seconds.
const (
	sentinelDownAfter       = 1000 * time.Millisecond // down-after-milliseconds
	sentinelFailoverTimeout = 3000 * time.Millisecond // failover-timeout
)

// Sentinel is a private Redis Sentinel (redis-server --sentinel) watching one
// master under MasterName, quorum 1: alone, it decides and runs failovers.
type Sentinel struct {
	Addr       string // 127.0.0.1:Port
	Port       int
	Dir        string
	MasterName string

	master   *Redis
	password string
	running
}

// StartReplica starts a new server replicating master (plain, no TLS; with
// the master's password, if any) and waits until its link to the master is
// up. It sets the master's repl-diskless-sync-delay to 0 so that the first
// sync starts at once. The replica is stopped, and its directory removed,
// when the test ends.
func StartReplica(t testing.TB, master *Redis) *Redis {
	t.Helper()
	if master.opt.TLS != nil {
		t.Fatal("testenv: StartReplica does not support a TLS master")
	}
	// The master waits repl-diskless-sync-delay (5s) for more replicas
	// before a full sync; there is only this one.
	mc := redis.NewClient(&redis.Options{Addr: master.Addr, Password: master.opt.Password, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err()
	cancel()
	mc.Close()
	fatalIf(t, err)
	args := []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}
	if master.opt.Password != "" {
		args = append(args, "--masterauth", master.opt.Password)
	}
	r := StartRedis(t, RedisOptions{ExtraArgs: args, Password: master.opt.Password})
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.opt.Password})
	defer c.Close()
	err = waitFor(startTimeout, func(ctx context.Context) error {
		info, err := c.InfoMap(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if s := info["Replication"]["master_link_status"]; s != "up" {
			return fmt.Errorf("master_link_status %q", s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: replica %s of %s: %v\n--- redis.log tail:\n%s", r.Addr, master.Addr, err, tail(r.logFile(), 20))
	}
	return r
}

// StartSentinel starts a sentinel monitoring master under name and waits
// until it knows every one of replicas as a connected replica, so that a
// failover can pick one. It is stopped by its PID, and its directory
// removed, when the test ends.
func StartSentinel(t testing.TB, master *Redis, name string, replicas ...*Redis) *Sentinel {
	t.Helper()
	return StartSentinelOpts(t, master, name, SentinelOptions{}, replicas...)
}

// SentinelOptions tunes a sentinel; the zero value is StartSentinel's.
type SentinelOptions struct {
	// Password, when set, is required of every client of the sentinel
	// itself (requirepass in sentinel.conf).
	Password string
}

// StartSentinelOpts is StartSentinel with options.
func StartSentinelOpts(t testing.TB, master *Redis, name string, opt SentinelOptions, replicas ...*Redis) *Sentinel {
	t.Helper()
	requireBinaries(t, "redis-server", "redis-server")
	if master.opt.TLS != nil {
		t.Fatal("testenv: StartSentinel does not support a TLS master")
	}
	// "redis-" in the name: sweepStale removes cachesync-redis-* directories.
	dir, err := makeDir("redis-sentinel")
	fatalIf(t, err)
	s := &Sentinel{Dir: dir, MasterName: name, master: master, password: opt.Password}
	t.Cleanup(s.close)
	startOnFreePort(t, func(port int) error {
		s.Port, s.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
		return s.start()
	}, s.logFile)
	want := make([]string, len(replicas))
	for i, r := range replicas {
		want[i] = r.Addr
	}
	c := s.newClient()
	defer c.Close()
	err = waitFor(startTimeout, func(ctx context.Context) error {
		got, err := s.connectedReplicas(ctx, c)
		if err != nil {
			return err
		}
		for _, w := range want {
			if !got[w] {
				return fmt.Errorf("sentinel knows replicas %v, not yet %s", got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: sentinel %s: %v\n--- sentinel.log tail:\n%s", s.Addr, err, tail(s.logFile(), 20))
	}
	return s
}

func (s *Sentinel) logFile() string  { return filepath.Join(s.Dir, "sentinel.log") }
func (s *Sentinel) confFile() string { return filepath.Join(s.Dir, "sentinel.conf") }

func (s *Sentinel) newClient() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: s.password, MaxRetries: -1})
}

// start writes a fresh sentinel.conf (sentinel rewrites it as it goes, so it
// lives in the sentinel's own directory) and runs the sentinel until it
// answers as this very process and reports the master.
func (s *Sentinel) start() error {
	bin, err := lookBinary("redis-server")
	if err != nil {
		return err
	}
	n := s.MasterName
	conf := []string{
		"port " + strconv.Itoa(s.Port),
		"bind 127.0.0.1",
		"daemonize no",
		"dir " + s.Dir,
		"logfile " + s.logFile(),
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", n, s.master.Port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", n, sentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", n, sentinelFailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", n),
	}
	if pw := s.master.opt.Password; pw != "" {
		conf = append(conf, fmt.Sprintf("sentinel auth-pass %s %s", n, pw))
	}
	if s.password != "" {
		conf = append(conf, "requirepass "+s.password)
	}
	if err := os.WriteFile(s.confFile(), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	p, err := startProc(exec.Command(bin, s.confFile(), "--sentinel"), filepath.Join(s.Dir, "sentinel.out"))
	if err != nil {
		return err
	}
	s.set(p)
	c := s.newClient()
	defer c.Close()
	plain := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.password, MaxRetries: -1})
	defer plain.Close()
	err = waitReady(p, func(ctx context.Context) error {
		if err := servedBy(ctx, plain, s.Addr, p.pid()); err != nil {
			return err
		}
		addr, err := c.GetMasterAddrByName(ctx, n).Result()
		if err != nil {
			return err
		}
		if len(addr) != 2 || net.JoinHostPort(addr[0], addr[1]) != s.master.Addr {
			return fmt.Errorf("sentinel reports master %v, want %s", addr, s.master.Addr)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errExited) {
			p.kill()
		}
		return fmt.Errorf("testenv: sentinel on %s (dir %s): %w\n--- sentinel.log tail:\n%s\n--- stdout/stderr tail:\n%s",
			s.Addr, s.Dir, err, tail(s.logFile(), 20), tail(filepath.Join(s.Dir, "sentinel.out"), 10))
	}
	return nil
}

// connectedReplicas is the set of replica addresses the sentinel knows
// whose link to the master is up and which it does not consider down.
func (s *Sentinel) connectedReplicas(ctx context.Context, c *redis.SentinelClient) (map[string]bool, error) {
	list, err := c.Replicas(ctx, s.MasterName).Result()
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, r := range list {
		if r["master-link-status"] == "ok" && !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
			got[net.JoinHostPort(r["ip"], r["port"])] = true
		}
	}
	return got, nil
}

// MasterAddr is the master's address as the sentinel reports it now.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	c := s.newClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	fatalIf(t, err)
	return net.JoinHostPort(addr[0], addr[1])
}

// WaitFailover waits, at most limit, until the sentinel has finished a
// failover to one of candidates: its master record names that server with no
// failover in progress (so +switch-master has been published) and the server
// itself answers as a master. It returns that server. Call it after killing
// the old master, or after Failover.
func (s *Sentinel) WaitFailover(t testing.TB, limit time.Duration, candidates ...*Redis) *Redis {
	t.Helper()
	c := s.newClient()
	defer c.Close()
	var promoted *Redis
	err := waitFor(limit, func(ctx context.Context) error {
		m, err := c.Master(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		got := net.JoinHostPort(m["ip"], m["port"])
		if strings.Contains(m["flags"], "failover_in_progress") {
			return fmt.Errorf("failover to %s in progress (flags %s)", got, m["flags"])
		}
		for _, r := range candidates {
			if r.Addr != got {
				continue
			}
			rc := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.opt.Password, MaxRetries: -1})
			defer rc.Close()
			info, err := rc.InfoMap(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if role := info["Replication"]["role"]; role != "master" {
				return fmt.Errorf("sentinel names %s master, which still says role %s", got, role)
			}
			promoted = r
			return nil
		}
		return fmt.Errorf("sentinel reports master %s (flags %s)", got, m["flags"])
	})
	if err != nil {
		t.Fatalf("testenv: no failover of %s within %v: %v\n--- sentinel.log tail:\n%s", s.MasterName, limit, err, tail(s.logFile(), 30))
	}
	return promoted
}

// Failover asks the sentinel for a failover while the master is up
// (SENTINEL FAILOVER): a replica is promoted and the old master, still
// running, is later turned into its replica. Follow it with WaitFailover.
func (s *Sentinel) Failover(t testing.TB) {
	t.Helper()
	c := s.newClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fatalIf(t, c.Failover(ctx, s.MasterName).Err())
}

// Log returns the last n lines of the sentinel's log, for test messages.
func (s *Sentinel) Log(n int) string { return tail(s.logFile(), n) }

func (s *Sentinel) close() { s.stopAndRemove(s.Dir) }

// waitFor polls check until it succeeds or limit passes; the error carries
// check's last failure.
func waitFor(limit time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
