// Command cachesync-torture measures the cache-aside race: how many keys
// each way of invalidating leaves older than MySQL, under writers and
// readers whose fills are delayed by injected pauses (package
// internal/torture). It drops and recreates its table and flushes the Redis
// database, so it runs only against private servers on 127.0.0.0/8;
// `make torture` starts those, runs it and stops them.
//
//	cachesync-torture -mysql 127.0.0.1:3306 -redis 127.0.0.1:6379 \
//	    -modes app-delete,single,double -duration 30s -json torture.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/internal/torture"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachesync-torture:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cachesync-torture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o torture.Options
	fs.StringVar(&o.MySQLAddr, "mysql", os.Getenv("MYSQL_ADDR"), "MariaDB/MySQL host:port on 127.0.0.0/8 (default $MYSQL_ADDR)")
	fs.StringVar(&o.MySQLUser, "mysql-user", envOr("MYSQL_USER", "root"), "its user, with replication rights (default $MYSQL_USER, else root)")
	fs.StringVar(&o.MySQLPassword, "mysql-password", os.Getenv("MYSQL_PASSWORD"), "its password (default $MYSQL_PASSWORD)")
	fs.StringVar(&o.Flavor, "flavor", "mariadb", "mysql or mariadb")
	fs.StringVar(&o.RedisAddr, "redis", os.Getenv("REDIS_ADDR"), "Redis host:port on 127.0.0.0/8 (default $REDIS_ADDR)")
	modes := fs.String("modes", strings.Join(torture.Modes(), ","), "modes to compare, in order")
	fs.IntVar(&o.Writers, "writers", 4, "writer goroutines (W)")
	fs.IntVar(&o.Readers, "readers", 64, "reader goroutines (R); they share up to 32 MySQL connections, held for the read only")
	fs.IntVar(&o.Rows, "rows", 5000, "rows in the items table")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long the writers write, per mode")
	fs.DurationVar(&o.SecondDelay, "second-delay", 500*time.Millisecond, "D: cachesync's delete.second_delay in mode double, and the unit of -pause")
	pause := fs.String("pause", torture.DefaultPause, "pause between a reader's MySQL read and its cache write: WEIGHT:LO-HI parts; a range from 0 is uniform, from LO > 0 log-uniform; nD is n × -second-delay")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the rows and pauses drawn")
	fs.Float64Var(&o.WriteRate, "write-rate", 0, "writes per second, all writers together; 0: as fast as MySQL takes them")
	fs.StringVar(&o.ReplicaAddr, "replica", os.Getenv("REPLICA_ADDR"), "a MariaDB replica of -mysql (GTID mode, same user) on 127.0.0.0/8: readers fill from it while its SQL thread is stopped and started at random; enables mode replica-aware (default $REPLICA_ADDR)")
	fs.DurationVar(&o.ReplicaLag, "replica-lag", 2*time.Second, "with -replica: each stop of its SQL thread lasts up to this long")
	fs.BoolVar(&o.Observe, "observe", false, "run the consistency observer (cachesync observe) beside each mode, in-process, and report its counts next to the harness's")
	fs.Float64Var(&o.ObserveSample, "observe-sample", 1, "with -observe: the fraction of row changes it checks")
	windows := fs.String("observe-windows", "1s,10s", "with -observe: its windows; the last must outlast the longest pause")
	jsonOut := fs.String("json", "torture.json", "write the report here as JSON; empty: do not")
	deadline := fs.Duration("deadline", 0, "hard bound on the whole run; 0: per mode, the duration + 20 × second-delay + 3m")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error (to stderr)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	o.Modes = strings.Split(*modes, ",")
	var err error
	for _, w := range strings.Split(*windows, ",") {
		d, perr := time.ParseDuration(strings.TrimSpace(w))
		if perr != nil || d <= 0 {
			return usageError{fmt.Errorf("-observe-windows %q: want increasing durations such as 1s,10s", *windows)}
		}
		o.ObserveWindows = append(o.ObserveWindows, d)
	}
	if o.Pause, err = torture.ParseDist(*pause, o.SecondDelay); err != nil {
		return usageError{err}
	}
	replicaErr := error(nil)
	if o.ReplicaAddr != "" {
		replicaErr = loopback("-replica", o.ReplicaAddr)
	}
	if err := errors.Join(o.Check(), loopback("-mysql", o.MySQLAddr), loopback("-redis", o.RedisAddr), replicaErr); err != nil {
		return usageError{err}
	}
	if o.Log, err = logging.New("console", *logLevel); err != nil {
		return usageError{err}
	}
	defer o.Log.Sync() //nolint:errcheck // stderr sync errors are not actionable
	redis.SetLogger(logging.Redis(o.Log))
	if *cpuProfile != "" {
		stop, err := startProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	limit := *deadline
	if limit == 0 {
		limit = time.Duration(len(o.Modes)) * (o.Duration + 20*o.SecondDelay + 3*time.Minute)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	rep, runErr := torture.Run(ctx, o)
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, rep); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeJSON(path string, rep torture.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// loopback refuses an address off 127.0.0.0/8: the harness drops its
// table and flushes the Redis database.
func loopback(flag, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s is required (or its environment variable)", flag)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return fmt.Errorf("%s %s: the harness drops its table and flushes Redis, so it runs only against private servers on 127.0.0.0/8", flag, addr)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
