// Command devkafka is a development Kafka broker for demos, benchmarks and
// tests: the franz-go kfake broker (the Kafka wire protocol, one process,
// no replication) on one address. NOT FOR PRODUCTION: without --data-dir
// it keeps everything in memory and loses it on exit, and it has no
// authentication or TLS.
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
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const notForProduction = "NOT FOR PRODUCTION: a development Kafka broker (kfake) with no replication, no authentication and no TLS"

const usage = `devkafka — ` + notForProduction + `.

Runs one Kafka-protocol broker on --listen for demos, benchmarks and tests.
Without --data-dir every topic, message and committed offset lives in memory
and is gone when devkafka exits. Production Kafka comes from docker-compose
or your own cluster.

Usage:
  devkafka [--listen 127.0.0.1:9092] [--partitions N] [--topics a,b] [--data-dir DIR]
           [--auto-create-topics] [--log-level none|error|warn|info|debug]

The address it listens on is printed on stdout (useful with --listen 127.0.0.1:0);
logs go to stderr. SIGINT or SIGTERM stops it (exit 0); a second signal exits at once.
Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the flags ask for.
type config struct {
	listen     string
	partitions int
	topics     []string
	dataDir    string
	autoCreate bool
	logLevel   kfake.LogLevel
}

// run serves until ctx ends. release is called once ctx has ended, before the
// broker is closed: main passes the signal context's stop, so a second
// signal gets Go's default handling and kills a shutdown that hangs.
func run(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "devkafka: %v\n", err)
		return 2
	}
	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	if cfg.dataDir == "" {
		log.Warn(notForProduction + "; everything is kept in memory and lost on exit")
	} else {
		log.Warn(notForProduction+"; state is kept in --data-dir", zap.String("data_dir", cfg.dataDir))
	}

	c, err := start(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "devkafka: %v\n", err)
		return 1
	}
	addr := c.ListenAddrs()[0]
	log.Info("listening", zap.String("addr", addr), zap.Int("default_partitions", cfg.partitions),
		zap.Strings("topics", cfg.topics), zap.String("data_dir", cfg.dataDir), zap.Bool("auto_create_topics", cfg.autoCreate))
	fmt.Fprintln(stdout, addr)

	<-ctx.Done()
	if release != nil {
		release()
	}
	log.Info("stopping (a second signal exits at once)")
	c.Close()
	log.Info("stopped")
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var (
		cfg      config
		topics   string
		logLevel string
	)
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:9092", "host:port to listen on, and the address advertised to clients; only this address is bound (port 0 picks a free one)")
	fs.IntVar(&cfg.partitions, "partitions", 1, "partitions of the --topics and of topics created without a count (Kafka's num.partitions)")
	fs.StringVar(&topics, "topics", "", "comma-separated topics to create at start when missing, e.g. cache-invalidation,cache-invalidation.dlq")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "keep topics, messages and committed offsets in DIR across restarts (default: memory only)")
	fs.BoolVar(&cfg.autoCreate, "auto-create-topics", false, "create a topic when a client asks for an unknown one (off, like most production clusters)")
	fs.StringVar(&logLevel, "log-level", "warn", "broker log level: none, error, warn, info or debug")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if err := checkListen(cfg.listen); err != nil {
		return cfg, err
	}
	if cfg.partitions < 1 || cfg.partitions > 10000 {
		return cfg, fmt.Errorf("--partitions %d: must be between 1 and 10000", cfg.partitions)
	}
	var err error
	if cfg.topics, err = parseTopics(topics); err != nil {
		return cfg, err
	}
	if cfg.logLevel, err = parseLogLevel(logLevel); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// checkListen refuses addresses that would bind every interface: the broker
// has no authentication, and it advertises the address it listens on, which
// clients could not dial back when it is 0.0.0.0.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %v; give host:port, e.g. 127.0.0.1:9092", addr, err)
	}
	if port == "" {
		return fmt.Errorf("--listen %q: no port; give host:port, e.g. 127.0.0.1:9092", addr)
	}
	if host == "" {
		return fmt.Errorf("--listen %q: no host, which would listen on every interface; name one address, e.g. 127.0.0.1:9092", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("--listen %q: devkafka has no authentication and will not listen on every interface; name one address, e.g. 127.0.0.1:9092", addr)
	}
	return nil
}

func parseTopics(s string) ([]string, error) {
	var topics []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := checkTopic(t); err != nil {
			return nil, fmt.Errorf("--topics: %w", err)
		}
		topics = append(topics, t)
	}
	return topics, nil
}

// checkTopic applies Kafka's rule for topic names.
func checkTopic(t string) error {
	if len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("topic %q: not a valid Kafka topic name", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic %q: %q is not allowed; use letters, digits, '.', '_' and '-'", t, r)
		}
	}
	return nil
}

func parseLogLevel(s string) (kfake.LogLevel, error) {
	switch strings.ToLower(s) {
	case "none":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return 0, fmt.Errorf("--log-level %q: use none, error, warn, info or debug", s)
}

// start runs a one-broker kfake cluster bound to cfg.listen only, and
// creates the --topics it does not have yet (with --data-dir they may
// already be there, with the partitions they had).
func start(cfg config, log *zap.Logger) (*kfake.Cluster, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("devkafka"),
		// kfake listens on 127.0.0.1:<port> by default; bind exactly the
		// address given instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, cfg.listen) }),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.WithLogger(kfakeLogger{log: log.Named("kfake"), level: cfg.logLevel}),
	}
	if cfg.autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if cfg.dataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start broker on %s: %w", cfg.listen, err)
	}
	for _, t := range cfg.topics {
		if info := c.TopicInfo(t); info != nil {
			log.Info("topic exists", zap.String("topic", t), zap.Int("partitions", len(c.PartitionInfos(t))))
			continue
		}
		err := c.CreateTopic(t, int32(cfg.partitions), nil)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			c.Close()
			return nil, fmt.Errorf("create topic %q: %w", t, err)
		}
		log.Info("topic created", zap.String("topic", t), zap.Int("partitions", cfg.partitions))
	}
	return c, nil
}

// newLogger writes human-readable lines to w: devkafka is run by hand.
func newLogger(w io.Writer) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zapcore.InfoLevel)
	return zap.New(core).Named("devkafka")
}

// kfakeLogger sends kfake's own log lines, up to level, into zap.
type kfakeLogger struct {
	log   *zap.Logger
	level kfake.LogLevel
}

func (l kfakeLogger) Logf(lvl kfake.LogLevel, format string, args ...any) {
	if lvl == kfake.LogLevelNone || lvl > l.level {
		return
	}
	msg := fmt.Sprintf(format, args...)
	switch lvl {
	case kfake.LogLevelError:
		l.log.Error(msg)
	case kfake.LogLevelWarn:
		l.log.Warn(msg)
	default:
		l.log.Info(msg)
	}
}
