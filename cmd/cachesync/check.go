package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/source"
)

func cmdCheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	path := fs.String("config", "cachesync.yaml", "config file")
	online := fs.Bool("online", false, "also connect: check the source's settings and every rule against the live schema, warn of privileges the source user has beyond what cachesync needs, and check that Redis (and Kafka's topics) answer with these credentials")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	// go-redis reports each failed dial on its own; the check's message
	// says it once, with the key to fix.
	redis.SetLogger(logging.Redis(zap.NewNop()))
	for _, w := range configWarnings(cfg) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if !*online {
		fmt.Fprintf(stdout, "%s: ok (%d rules; run with --online to check the servers too)\n", *path, len(cfg.Rules))
		return nil
	}
	warnings, err := source.PreflightWarnings(ctx, cfg.Source)
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	// A source that cannot be connected to fails every other source check
	// the same way, each after its own source.connect_timeout: say it once.
	var down *source.ConnectError
	sourceUp := !errors.As(err, &down)
	errs := []error{err, checkRedisOnline(ctx, cfg.Redis)}
	errs = append(errs, checkRunNeeds(ctx, cfg, stdout, sourceUp)...)
	checked := "source settings, privileges and schema at " + cfg.Source.Addr + "; redis"
	if cfg.Transport.Kind == "kafka" {
		errs = append(errs, checkKafkaOnline(ctx, cfg.Transport.Kafka, stdout))
		checked += "; kafka topics"
	}
	if sourceUp {
		errs = append(errs, checkSourceRules(ctx, cfg, stdout)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: online check failed:\n%w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: ok (%d rules; checked %s)\n", *path, len(cfg.Rules), checked)
	return nil
}

// checkSourceRules checks the source user's privileges and every rule
// against the live schema. Privileges beyond what cachesync needs are
// warnings, not failures: they are a security problem, not a correctness
// one.
func checkSourceRules(ctx context.Context, cfg *config.Config, stdout io.Writer) []error {
	privs, err := source.CheckPrivileges(ctx, cfg.Source, pipeline.RulePtrs(cfg))
	if err != nil {
		fmt.Fprintf(stdout, "warning: could not check the source user's privileges for extras: %v\n", err)
	}
	for _, e := range privs.Extra {
		fmt.Fprintf(stdout, "warning: %s\n", e)
	}
	for _, n := range privs.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	rep, err := source.CheckSchema(ctx, cfg.Source, pipeline.RulePtrs(cfg))
	errs := append([]error{err}, rep.Problems...)
	for _, m := range rep.Missing {
		errs = append(errs, errors.New(m))
	}
	return errs
}

// loadConfig reads, validates and resolves secrets; its error lists every problem.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if err := cfg.ResolveSecrets(os.ReadFile); err != nil {
		return nil, err
	}
	return cfg, nil
}
