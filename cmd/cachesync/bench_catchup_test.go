package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/testenv"
)

// BenchmarkCatchUp: N single-row changes (UPDATEs of 1,000 rows per
// statement) wait in the binlog while the target is not running; the clock
// runs from the target's start until the last key is gone (until every key
// holds its new value, for the write-through targets). Reported: rows/s and
// peak RSS. The backlog is written once per N; each target then gets every
// key cached again (untimed) and starts at the binlog position from before
// the backlog: cachesync from a checkpoint file written there, the floor and
// the decode-only ceiling with --position. N is CACHESYNC_BENCH_CATCHUP, a
// comma list (default 1000000).
//
//	CACHESYNC_BENCH_CATCHUP=100000 go test ./cmd/cachesync -run '^$' -bench CatchUp -benchtime 1x
func BenchmarkCatchUp(b *testing.B) {
	sizes, err := catchUpSizes(os.Getenv("CACHESYNC_BENCH_CATCHUP"))
	if err != nil {
		b.Fatalf("CACHESYNC_BENCH_CATCHUP: %v", err)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			bl := writeBacklog(b, n)
			for _, tg := range catchUpTargets {
				b.Run("target="+tg.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						elapsed, hwm := bl.drain(b, tg)
						b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
						b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
					}
				})
			}
		})
	}
}

// catchUpTarget is what drains the backlog: one of the bench targets, or
// the decode-only ceiling, with its rules.
type catchUpTarget struct {
	name  string
	tg    benchTarget // the transport (or the floor)
	rules string      // cachesync's rules (usersRules or wtBenchRules)
	write bool        // write-through: done when every key holds its new value
}

const targetDecodeOnly benchTarget = "decode-only"

var catchUpTargets = []catchUpTarget{
	{name: "decode-only", tg: targetDecodeOnly},
	{name: "floor", tg: targetFloor},
	{name: "direct", tg: targetDirect, rules: usersRules},
	{name: "kafka", tg: targetKafka, rules: usersRules},
	{name: "kafka-batch", tg: targetKafkaBatch, rules: usersRules},
	{name: "writethrough-direct", tg: targetDirect, rules: wtBenchRules, write: true},
	{name: "writethrough-kafka", tg: targetKafka, rules: wtBenchRules, write: true},
	{name: "writethrough-kafka-batch", tg: targetKafkaBatch, rules: wtBenchRules, write: true},
}

func catchUpSizes(v string) ([]int, error) {
	if v == "" {
		v = "1000000"
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1000 || n%1000 != 0 {
			return nil, fmt.Errorf("%q: want multiples of 1000, e.g. 1000000,5000000", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// backlog is N rows and their updates waiting in the binlog from pos on.
type backlog struct {
	e   *env // its database and Redis; config rewritten per target
	n   int
	pos binPos // before the first update
	cfg string // the config up to its rules
}

const catchUpPer = 1000 // rows per UPDATE statement

// writeBacklog seeds n rows, notes the binlog position, and updates every
// row once: row id gets name 'c' + the first id of its statement.
func writeBacklog(b *testing.B, n int) *backlog {
	b.StopTimer()
	db := testenv.SharedMariaDB(b)
	e := newEnv(b, db, []string{usersSchema}, usersRules, "")
	e.rewriteConfig("second_delay: 200ms", "second_delay: 500ms")
	for lo := 1; lo <= n; lo += 1000000 {
		e.exec(fmt.Sprintf("INSERT INTO DB.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM DB.seq_%d_to_%d", lo, min(n, lo+999999)))
	}
	f, p := db.MasterStatus(b)
	bl := &backlog{e: e, n: n, pos: binPos{File: f, Pos: p}}
	conn := db.Conn(b)
	for lo := 1; lo <= n; lo += catchUpPer {
		q := fmt.Sprintf("UPDATE `%s`.users SET name = 'c%d' WHERE id BETWEEN %d AND %d", e.name, lo, lo, lo+catchUpPer-1)
		if _, err := conn.Execute(q); err != nil {
			b.Fatal(err)
		}
	}
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		b.Fatal(err)
	}
	head, _, ok := strings.Cut(string(raw), "\nrules:\n")
	if !ok {
		b.Fatalf("config has no rules:\n%s", raw)
	}
	bl.cfg = head + "\n"
	return bl
}

// drain runs one target over the backlog and returns the time from its
// start to done, and its peak RSS in KiB.
var decodeOnlyRSS = regexp.MustCompile(`counted \d+ rows in \S+, peak RSS (\d+) kB`)

func (bl *backlog) drain(b *testing.B, ct catchUpTarget) (time.Duration, int) {
	b.StopTimer()
	e := *bl.e // this sub-benchmark's view: failures and cleanups are its own
	e.t = b
	flushAll(b, &e)
	bl.cacheAll(b, &e)
	cmd := bl.command(b, &e, ct)
	quiesce(b, e.db)
	b.StartTimer()
	start := time.Now()
	p := e.spawn(cmd)
	switch {
	case ct.tg == targetDecodeOnly:
		bl.waitExit(b, p)
	case ct.write:
		bl.waitWritten(b, &e, p)
	default:
		bl.waitGone(b, &e, p)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if ct.tg == targetDecodeOnly {
		// Its own VmHWM, as it printed it: the exit status's ru_maxrss also
		// counts this benchmark's memory at the fork.
		m := decodeOnlyRSS.FindStringSubmatch(p.out.String())
		if m == nil {
			b.Fatalf("decode-only printed no peak RSS:\n%s", p.out.String())
		}
		kb, _ := strconv.Atoi(m[1])
		return elapsed, kb
	}
	hwm := peakRSS(b, p.cmd.Process.Pid)
	if !strings.Contains(p.out.String(), "resuming from checkpoint") && ct.tg != targetFloor {
		b.Fatalf("%s did not resume from the checkpoint:\n%s", ct.name, p.out.String())
	}
	if code := p.stop(b); code != 0 {
		b.Fatalf("%s exited %d:\n%s", ct.name, code, p.out.String())
	}
	if ct.write {
		bl.verifyWritten(b, &e)
	}
	return elapsed, hwm
}

// command is the target's process, set to start at the backlog's
// position: the floor binary with --position, or cachesync with its config
// for the target and a checkpoint file at the position.
func (bl *backlog) command(b *testing.B, e *env, ct catchUpTarget) *exec.Cmd {
	switch ct.tg {
	case targetDecodeOnly, targetFloor:
		args := []string{"--mysql", e.db.Addr, "--user", "root", "--redis", e.redis.Addr,
			"--table", e.name + ".users", "--column", "id", "--prefix", "user:",
			"--server-id", strconv.FormatUint(uint64(e.db.ReplicaServerID()), 10), "--position", bl.pos.String()}
		if ct.tg == targetDecodeOnly {
			args = append(args, "--decode-only", "--expect", strconv.Itoa(bl.n))
		}
		return exec.Command(floorBin(b), args...)
	default:
		cfg := bl.cfg + ct.tg.extra(b) + "rules:\n" + strings.ReplaceAll(ct.rules, "DB.", e.name+".")
		if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		e.writeCheckpoint(fmt.Sprintf(`{"version":1,"file":%q,"pos":%d}`+"\n", bl.pos.File, bl.pos.Pos))
		cmd := exec.Command(binPath, "run", "--config", e.cfg)
		cmd.Env = append(os.Environ(), benchMemLimit)
		return cmd
	}
}

// flushAll empties the env's Redis, synchronously (a lazy free would
// compete with the next measurement), on a client that waits as long as
// freeing millions of keys takes.
func flushAll(b *testing.B, e *env) {
	c := redis.NewClient(&redis.Options{Addr: e.redis.Addr, ReadTimeout: 5 * time.Minute})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
}

// cacheAll sets user:1..n, in pipelines of 10,000 (untimed).
func (bl *backlog) cacheAll(b *testing.B, e *env) {
	ctx := context.Background()
	for lo := 1; lo <= bl.n; lo += 10000 {
		pipe := e.rdb.Pipeline()
		for id := lo; id < lo+10000 && id <= bl.n; id++ {
			pipe.Set(ctx, "user:"+strconv.Itoa(id), "cached", 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if got := e.rdb.DBSize(ctx).Val(); got != int64(bl.n) {
		b.Fatalf("%d keys cached, want %d", got, bl.n)
	}
}

// catchUpLimit bounds every wait of a drain of n rows: 10 minutes, plus
// 100 µs a row (a 5M backlog drained at under 10,000 rows/s is a failure).
func catchUpLimit(n int) time.Duration { return 10*time.Minute + time.Duration(n)*100*time.Microsecond }

// poll calls done every 2 ms until it is true; it fails when p exits first
// or limit passes.
func poll(b *testing.B, p *proc, limit time.Duration, what string, done func() (bool, string)) {
	deadline := time.Now().Add(limit)
	for {
		ok, state := done()
		if ok {
			return
		}
		select {
		case <-p.done:
			b.Fatalf("exited (%v) before %s (%s):\n%s", p.err, what, state, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("not %s after %v (%s)", what, limit, state)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitGone: no user key is left. DBSIZE is O(1); once it is small, a SCAN
// confirms that none of what remains is a user key.
func (bl *backlog) waitGone(b *testing.B, e *env, p *proc) {
	ctx := context.Background()
	poll(b, p, catchUpLimit(bl.n), "every key gone", func() (bool, string) {
		size, err := e.rdb.DBSize(ctx).Result()
		if err != nil {
			b.Fatal(err)
		}
		if size > 1000 {
			return false, fmt.Sprintf("%d keys in Redis", size)
		}
		left, cursor := 0, uint64(0)
		for { // the whole keyspace: a dict emptied by deletes shrinks late
			keys, next, err := e.rdb.Scan(ctx, cursor, "user:*", 100000).Result()
			if err != nil {
				b.Fatal(err)
			}
			left, cursor = left+len(keys), next
			if cursor == 0 {
				break
			}
		}
		return left == 0, fmt.Sprintf("%d user keys left", left)
	})
}

// waitWritten: every key written through. Each write puts the value and
// creates the key's version key, atomically (sink/scripts/writethrough.lua),
// so with n keys cached beforehand DBSIZE reaches 2n exactly when the last
// key is written — verifyWritten checks afterwards that nothing else was
// counted and that every value is the new one.
func (bl *backlog) waitWritten(b *testing.B, e *env, p *proc) {
	ctx := context.Background()
	poll(b, p, catchUpLimit(bl.n), "every key written", func() (bool, string) {
		size, err := e.rdb.DBSize(ctx).Result()
		if err != nil {
			b.Fatal(err)
		}
		return size >= int64(2*bl.n), fmt.Sprintf("%d of %d keys", size, 2*bl.n)
	})
}

// verifyWritten (untimed): exactly the n keys and their n version keys, and
// every key holds its row's new name.
func (bl *backlog) verifyWritten(b *testing.B, e *env) {
	ctx := context.Background()
	if got := e.rdb.DBSize(ctx).Val(); got != int64(2*bl.n) {
		b.Fatalf("%d keys in Redis after the write-through, want %d (values and version keys): the done test counted something else", got, 2*bl.n)
	}
	for lo := 1; lo <= bl.n; lo += catchUpPer {
		keys := make([]string, 0, catchUpPer)
		for id := lo; id < lo+catchUpPer; id++ {
			keys = append(keys, "user:"+strconv.Itoa(id))
		}
		vals, err := e.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			b.Fatal(err)
		}
		want := `"name":"c` + strconv.Itoa(lo) + `"`
		for i, v := range vals {
			if s, _ := v.(string); !strings.Contains(s, want) {
				b.Fatalf("%s = %q after the catch-up, want %s", keys[i], v, want)
			}
		}
	}
}

// waitExit: the decode-only floor counted every row and exited.
func (bl *backlog) waitExit(b *testing.B, p *proc) {
	select {
	case <-p.done:
	case <-time.After(catchUpLimit(bl.n)):
		b.Fatalf("decode-only did not count %d rows in %v:\n%s", bl.n, catchUpLimit(bl.n), p.out.String())
	}
	if want := fmt.Sprintf("counted %d rows", bl.n); p.err != nil || !strings.Contains(p.out.String(), want) {
		b.Fatalf("decode-only: %v, no %q:\n%s", p.err, want, p.out.String())
	}
}
