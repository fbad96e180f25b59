// Command cachesync-floor is the benchmark harness's floor: the least a
// binlog-to-Redis invalidator can do. go-mysql canal streams one table's row
// events from the primary's current position, and each rows event becomes a
// DEL of prefix+column for every row image. One goroutine sends them: what
// is queued when it is free goes in one pipelined round trip (up to
// batchKeys), so a round trip that takes longer than the gap between two
// events does not make it fall further behind with every event. No Kafka,
// no retries, no checkpoint, no second delete, no de-duplication: it is
// what cachesync is measured against (BENCHMARKS.md), not something to run.
//
//	cachesync-floor --mysql 127.0.0.1:3306 --user root --redis 127.0.0.1:6379 \
//	    --table shop.users --column id --prefix user:
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
	"strings"
	"syscall"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/redis/go-redis/v9"
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
	if err := fs.Parse(args); err != nil {
		return err
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
	c, err := gocanal.NewCanal(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: o.redisAddr})
	defer rdb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	h := &handler{ctx: ctx, column: o.column, prefix: o.prefix, queue: make(chan []string, queueSize)}
	c.SetEventHandler(h)
	pos, err := c.GetMasterPos()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "cachesync-floor: streaming %s from %s\n", o.table, pos)
	errc := make(chan error, 2)
	go func() { errc <- c.RunFrom(pos) }()
	go func() { errc <- send(ctx, rdb, h.queue) }()
	select {
	case <-ctx.Done():
		c.Close()
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

// queueSize bounds the rows events waiting for the sender, batchKeys the
// keys of one round trip (cachesync's transport.queue_size and
// delete.batch_keys defaults).
const (
	queueSize = 256
	batchKeys = 512
)

// send deletes the keys of each queued rows event, taking everything already
// queued into the same pipelined round trip.
func send(ctx context.Context, rdb *redis.Client, queue <-chan []string) error {
	for {
		var keys []string
		select {
		case keys = <-queue:
		case <-ctx.Done():
			return nil
		}
		pipe := rdb.Pipeline()
		add := func(keys []string) {
			for _, k := range keys {
				pipe.Del(ctx, k)
			}
		}
		add(keys)
	gather:
		for pipe.Len() < batchKeys {
			select {
			case more := <-queue:
				add(more)
			default:
				break gather
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
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
