package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
)

// RulePtrs are cfg's rules, as the stages take them.
func RulePtrs(cfg *config.Config) []*config.Rule {
	out := make([]*config.Rule, len(cfg.Rules))
	for i := range cfg.Rules {
		out[i] = &cfg.Rules[i]
	}
	return out
}

// besideCheckpoint is where the tailer keeps state with the checkpoint: a
// file next to a file checkpoint, a key next to a shared one in Redis (for
// the instance that takes over).
func besideCheckpoint(cfg *config.Config, store checkpoint.Store, name string) checkpoint.Blob {
	if rs, ok := store.(*checkpoint.RedisStore); ok {
		return rs.Blob(name)
	}
	return checkpoint.FileBlob{Path: cfg.Checkpoint.Path + "." + name}
}

// SchemaHistory reads the schema history run keeps: in Redis beside a
// shared checkpoint (checkpoint.store redis), else in the file beside it.
func SchemaHistory(ctx context.Context, cfg *config.Config) (*canal.SchemaHistory, error) {
	if cfg.Checkpoint.Store != "redis" {
		return canal.LoadSchemaHistory(cfg.Checkpoint.Path + ".schemas")
	}
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	return canal.OpenSchemaHistory(ctx, (&checkpoint.RedisStore{RDB: rdb, Keys: checkpoint.KeysFor(cfg.Checkpoint.Key)}).Blob("schemas"))
}

// StatePath is the state file of a backfill of table (kind "backfill" for
// the command, "gap" for on_gap's), next to checkpoint.path.
func StatePath(cfg *config.Config, kind, table string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, table)
	return filepath.Join(filepath.Dir(cfg.Checkpoint.Path), kind+"-"+safe+".json")
}

// CheckCheckpointDir makes sure the file checkpoint can be written: its
// directory exists and takes a new file (the store writes a temp file and
// renames it). Without this, run streams, fails every save and retries.
func CheckCheckpointDir(c config.CheckpointConfig) error {
	dir := filepath.Dir(c.Path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("checkpoint.path %s: the directory %s does not exist: create it (writable by cachesync) or point checkpoint.path elsewhere", c.Path, dir)
	case err != nil:
		return fmt.Errorf("checkpoint.path %s: %w", c.Path, err)
	case !st.IsDir():
		return fmt.Errorf("checkpoint.path %s: %s is not a directory: point checkpoint.path into a directory", c.Path, dir)
	}
	f, err := os.CreateTemp(dir, filepath.Base(c.Path)+".check-*")
	if err != nil {
		return fmt.Errorf("checkpoint.path %s: cannot create a file in %s (%v): make the directory writable by cachesync's user", c.Path, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
