package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/pipeline"
)

// oneShotFlags are the flags replay and backfill share.
type oneShotFlags struct {
	config, logFormat, logLevel string
	dryRun, direct              bool
}

// flagSet is a one-shot command's flag set with the shared flags
// registered; usage is printed before the flags on -h.
func (f *oneShotFlags) flagSet(name, usage string, stderr io.Writer, dryRunHelp string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&f.config, "config", "cachesync.yaml", "config file")
	fs.BoolVar(&f.dryRun, "dry-run", false, dryRunHelp)
	fs.BoolVar(&f.direct, "direct", false, "delete straight from Redis even if transport.kind is kafka")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return fs
}

func (f oneShotFlags) shared() oneShotFlags { return f }

// oneShotCommand is replay or backfill: its flags, and what it does with them.
type oneShotCommand interface {
	shared() oneShotFlags
	run(soft, hard context.Context, log *zap.Logger, cfg *config.Config, stdout, stderr io.Writer) error
}

// oneShot parses a one-shot command's flags (parse), sets up the logger and
// the config they name (setupOneShot) and runs the command; the logger is
// synced when it ends.
func oneShot[F oneShotCommand](soft, hard context.Context, args []string, stdout, stderr io.Writer,
	parse func([]string, io.Writer) (F, error)) error {
	f, err := parse(args, stderr)
	log, cfg, err := setupOneShot(f.shared(), err)
	if log == nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr sync errors are not actionable
	return f.run(soft, hard, log, cfg, stdout, stderr)
}

// errHelp: -h printed the usage; nothing else to do.
var errHelp = errors.New("help requested")

// parseFlags parses args, which take no arguments beyond the flags:
// errHelp after -h, exit code 2 for bad flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// setupOneShot is the common start of replay and backfill, given their
// parsed flags and the parse's error: the logger, the validated config with
// its secrets, and the transport: with --direct (or --dry-run) the keys go
// straight to Redis (or stdout) even when transport.kind is kafka. A nil
// logger means stop with the error (nil after -h). The caller syncs the
// logger.
func setupOneShot(f oneShotFlags, parseErr error) (*zap.Logger, *config.Config, error) {
	if errors.Is(parseErr, errHelp) {
		return nil, nil, nil
	}
	if parseErr != nil {
		return nil, nil, parseErr
	}
	log, err := logging.New(f.logFormat, f.logLevel)
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	redis.SetLogger(logging.Redis(log)) // go-redis has only a process-wide logger
	cfg, err := loadConfig(f.config)
	if err == nil && (f.direct || f.dryRun) {
		cfg.Transport.Kind = "direct"
	}
	if err != nil {
		log.Sync() //nolint:errcheck // stderr sync errors are not actionable
		return nil, nil, err
	}
	warnUnsafe(cfg, log)
	return log, cfg, nil
}

// outputOptions: a one-shot's keys, printed to stdout on a dry run.
func outputOptions(dryRun bool, stdout io.Writer) pipeline.OutputOptions {
	o := pipeline.OutputOptions{OneShot: true}
	if dryRun {
		o.DryRun = stdout
	}
	return o
}
