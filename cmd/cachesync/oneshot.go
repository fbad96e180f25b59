package main

import (
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/logging"
)

// setupOneShot is the common start of replay and backfill: the logger, the
// validated config with its secrets, and the transport: with --direct (or
// --dry-run) the keys go straight to Redis (or stdout) even when
// transport.kind is kafka. The caller syncs the logger.
func setupOneShot(configPath, logFormat, logLevel string, direct bool) (*zap.Logger, *config.Config, error) {
	log, err := logging.New(logFormat, logLevel)
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	redis.SetLogger(logging.Redis(log)) // go-redis has only a process-wide logger
	cfg, err := loadConfig(configPath)
	if err == nil && direct {
		cfg.Transport.Kind = "direct"
	}
	if err != nil {
		log.Sync() //nolint:errcheck // stderr sync errors are not actionable
		return nil, nil, err
	}
	warnUnsafe(cfg, log)
	return log, cfg, nil
}
