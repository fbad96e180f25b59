package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/pipeline"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/replicas"
	"github.com/cachesync/cachesync/source"
)

// The online checks of what run needs beyond reachable servers, each of
// which once passed `config check --online` and then failed run: the
// checkpoint's directory, the checkpoint's binlog, the write-behind
// privileges; and a note of the zone TIMESTAMP keys are rendered in. The
// ones that ask the source are left out when it cannot be reached
// (sourceUp false): that is reported once, by the caller.
func checkRunNeeds(ctx context.Context, cfg *config.Config, stdout io.Writer, sourceUp bool) []error {
	var errs []error
	if cfg.Checkpoint.Store != "redis" {
		errs = append(errs, pipeline.CheckCheckpointDir(cfg.Checkpoint))
	}
	if !sourceUp {
		return errs
	}
	errs = append(errs, checkCheckpointOnServer(ctx, cfg))
	missing, roles, err := source.CheckWriteBehindPrivileges(ctx, cfg.Source, pipeline.RulePtrs(cfg))
	errs = append(errs, err)
	for _, m := range missing {
		if roles {
			fmt.Fprintf(stdout, "warning: %s (unless a role granted to the user gives it)\n", m)
		} else {
			errs = append(errs, errors.New(m))
		}
	}
	if cfg.Delete.WaitsForReplicas() {
		errs = append(errs, replicas.Check(ctx, pipeline.ReplicaOptions(cfg))...)
	}
	loc, note, err := source.TimeZone(ctx, cfg.Source)
	switch {
	case err != nil:
		errs = append(errs, err)
	case note != "":
		fmt.Fprintf(stdout, "warning: %s\n", note)
	case loc != time.UTC:
		fmt.Fprintf(stdout, "warning: TIMESTAMP columns in key templates render in time zone %s (%s), as the application's SELECT shows them there; an application whose sessions use another zone builds other keys: then set source.time_zone to its zone\n",
			loc, zoneSource(cfg.Source))
	}
	return errs
}

func zoneSource(src config.SourceConfig) string {
	if src.TimeZone != "" {
		return "source.time_zone"
	}
	return "the server's time_zone"
}

// checkCheckpointOnServer loads the checkpoint run would resume from and
// checks that the source still has its binlog file.
func checkCheckpointOnServer(ctx context.Context, cfg *config.Config) error {
	var store checkpoint.Store = &checkpoint.FileStore{Path: cfg.Checkpoint.Path}
	if cfg.Checkpoint.Store == "redis" {
		rdb, err := sink.NewRedis(cfg.Redis)
		if err != nil {
			return err
		}
		defer rdb.Close()
		store = &checkpoint.RedisStore{RDB: rdb, Keys: checkpoint.KeysFor(cfg.Checkpoint.Key)}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pos, ok, err := store.Load(cctx)
	if err != nil || !ok {
		return err
	}
	if err := canal.CheckGTIDDomains(cctx, cfg.Source, pos); err != nil {
		return fmt.Errorf("%s: %w", store, err)
	}
	if pos.File == "" || cfg.Source.GTID {
		return nil // a GTID checkpoint is found by its set, which run checks
	}
	ret, err := source.RetentionBefore(cctx, cfg.Source, pos)
	if err != nil || ret.Found {
		return err
	}
	if cfg.Source.OnGap == "backfill" {
		return nil // run backfills every mapped table, then streams on
	}
	return fmt.Errorf("%s: position %s: the source %s no longer has its binlog (purged, or another server), so run would refuse to start. "+
		"Ways out: set source.on_gap: backfill; or delete the checkpoint and run `cachesync backfill` for every mapped table; or restore the binlog files", store, pos, cfg.Source.Addr)
}
