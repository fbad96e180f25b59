// Command cachesync-floor is the benchmark harness's floor: the least a
// binlog-to-Redis invalidator can do. go-mysql canal streams one table's row
// events from the primary's current position, and each rows event becomes a
// DEL of prefix+column for every row image. One goroutine sends them: what
// is queued when it is free goes in one pipelined round trip (up to
// delete.batch_keys' default), so a round trip that takes longer than the gap between two
// events does not make it fall further behind with every event. No Kafka,
// no retries, no checkpoint, no second delete, no de-duplication: it is
// what cachesync is measured against (BENCHMARKS.md), not something to run.
//
//	cachesync-floor --mysql 127.0.0.1:3306 --user root --redis 127.0.0.1:6379 \
//	    --table shop.users --column id --prefix user:
//
// --position file:pos streams from that binlog coordinate instead (a
// backlog: the catch-up benchmark). --decode-only sends nothing: it counts
// the table's changed rows (an UPDATE's before and after image are one row)
// and, with --expect N, prints "cachesync-floor: counted N rows in D, peak
// RSS K kB" once it has counted N and exits 0 — the ceiling of one binlog stream through
// go-mysql's decoder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cachesync-floor:", err)
		os.Exit(1)
	}
}

type options struct {
	mysql, user, password, flavor string
	serverID                      uint
	redisAddr                     string
	table, column, prefix         string
	position                      string
	decodeOnly                    bool
	expect                        int
}

func run(args []string, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("cachesync-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mysql, "mysql", "127.0.0.1:3306", "primary host:port")
	fs.StringVar(&o.user, "user", "root", "replication user")
	fs.StringVar(&o.password, "password", os.Getenv("MYSQL_PASSWORD"), "its password (default $MYSQL_PASSWORD)")
	fs.StringVar(&o.flavor, "flavor", "mariadb", "mysql or mariadb")
	fs.UintVar(&o.serverID, "server-id", 4299, "replica server id")
	fs.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "redis host:port")
	fs.StringVar(&o.table, "table", "", "db.table whose rows feed the keys")
	fs.StringVar(&o.column, "column", "id", "the column appended to --prefix")
	fs.StringVar(&o.prefix, "prefix", "", "key prefix, e.g. user:")
	fs.StringVar(&o.position, "position", "", "binlog file:pos to stream from (default: the primary's current position)")
	fs.BoolVar(&o.decodeOnly, "decode-only", false, "count the table's changed rows; send nothing to Redis")
	fs.IntVar(&o.expect, "expect", 0, "with --decode-only: exit 0 once this many rows were counted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.expect > 0 && !o.decodeOnly {
		return errors.New("--expect needs --decode-only")
	}
	db, name, ok := strings.Cut(o.table, ".")
	if !ok {
		return errors.New("--table must be db.table")
	}
	cfg := gocanal.NewDefaultConfig()
	cfg.Addr, cfg.User, cfg.Password, cfg.Flavor = o.mysql, o.user, o.password, o.flavor
	cfg.ServerID = uint32(o.serverID)
	cfg.Dump.ExecutionPath = ""
	cfg.IncludeTableRegex = []string{"^" + regexp.QuoteMeta(db) + `\.` + regexp.QuoteMeta(name) + "$"}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	// go-mysql buffers 10240 decoded events by default: a backlog of
	// 1,000-row events fills that to ~700 MiB. cachesync reads 32 ahead.
	cfg.EventCacheCount = 32
	c, err := gocanal.NewCanal(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: o.redisAddr})
	defer rdb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	counted := make(chan struct{})
	var queue chan []string
	if o.decodeOnly {
		c.SetEventHandler(&counter{expect: o.expect, done: counted})
	} else {
		queue = make(chan []string, config.Default().Transport.QueueSize)
		c.SetEventHandler(&handler{ctx: ctx, queue: queue, column: o.column, prefix: o.prefix})
	}
	pos, err := startPos(c, o.position)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "cachesync-floor: streaming %s from %s\n", o.table, pos)
	start := time.Now()
	errc := make(chan error, 2)
	go func() { errc <- c.RunFrom(pos) }()
	if queue != nil {
		go func() { errc <- send(ctx, rdb, queue, config.Default().Delete.BatchKeys) }()
	}
	select {
	case <-ctx.Done():
		c.Close()
		<-errc
		return nil
	case <-counted:
		fmt.Fprintf(stderr, "cachesync-floor: counted %d rows in %v, peak RSS %d kB\n", o.expect, time.Since(start), peakRSS())
		c.Close()
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

// startPos is --position (file:pos) or, without it, the primary's current
// position.
func startPos(c *gocanal.Canal, flagValue string) (mysql.Position, error) {
	if flagValue == "" {
		return c.GetMasterPos()
	}
	file, p, ok := strings.Cut(flagValue, ":")
	n, err := strconv.ParseUint(p, 10, 32)
	if !ok || file == "" || err != nil {
		return mysql.Position{}, fmt.Errorf("--position %q: want binlog-file:pos", flagValue)
	}
	return mysql.Position{Name: file, Pos: uint32(n)}, nil
}

// counter is the decode-only handler: it counts changed rows and closes done
// when it has seen expect of them (never, when expect is 0).
type counter struct {
	gocanal.DummyEventHandler
	expect, rows int
	done         chan struct{}
}

func (h *counter) String() string { return "decode-only" }

// OnRow counts the rows of the event; an UPDATE carries two images per row.
func (h *counter) OnRow(e *gocanal.RowsEvent) error {
	n := len(e.Rows)
	if e.Action == gocanal.UpdateAction {
		n /= 2
	}
	before := h.rows
	h.rows += n
	if h.expect > 0 && before < h.expect && h.rows >= h.expect {
		close(h.done)
	}
	return nil
}

type handler struct {
	gocanal.DummyEventHandler
	ctx    context.Context
	queue  chan []string
	column string
	prefix string
	col    int
	table  any
	buf    []byte
}

func (h *handler) String() string { return "floor" }

// OnRow queues the key of every row image of the event for the sender.
func (h *handler) OnRow(e *gocanal.RowsEvent) error {
	if h.table != any(e.Table) {
		h.table, h.col = e.Table, e.Table.FindColumn(h.column)
		if h.col < 0 {
			return fmt.Errorf("table %s has no column %q", e.Table, h.column)
		}
	}
	keys := make([]string, len(e.Rows))
	for i, row := range e.Rows {
		h.buf = fmt.Appendf(append(h.buf[:0], h.prefix...), "%v", row[h.col])
		keys[i] = string(h.buf)
	}
	select {
	case h.queue <- keys:
		return nil
	case <-h.ctx.Done():
		return h.ctx.Err()
	}
}

// peakRSS is this process's VmHWM in kB (0 if unknown). The harness cannot
// take it from the exit status: Linux's ru_maxrss of an exec'd child also
// counts the parent's memory at the fork, the whole benchmark's.
func peakRSS() int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
