package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/cachesync/cachesync/event"
)

// Store keeps the last safe position across restarts.
type Store interface {
	// Load returns the saved position; ok is false when none was ever saved.
	// A checkpoint that exists but cannot be read is an error, never "none":
	// silently restarting from "now" would skip invalidations.
	Load(ctx context.Context) (pos event.Position, ok bool, err error)
	Save(ctx context.Context, pos event.Position) error
}

// FileStore writes the position as JSON: temp file, fsync, rename, fsync dir.
type FileStore struct {
	Path string
	Now  func() time.Time // default time.Now
}

type fileRecord struct {
	Version int    `json:"version"`
	File    string `json:"file"`
	Pos     uint32 `json:"pos"`
	GTID    string `json:"gtid,omitempty"`
	SavedAt string `json:"saved_at"`
}

func (s *FileStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// String names the checkpoint in messages.
func (s *FileStore) String() string { return "checkpoint file " + s.Path }

// damagedFix is the way out of a damaged checkpoint, said the same way for
// every store.
const damagedFix = "restore it from a backup; or delete it, and cachesync starts at the primary's current position: " +
	"then run `cachesync backfill` for every mapped table (or `cachesync replay --from` a position before the damage) " +
	"so the changes since the lost position do not stay cached"

// Load implements Store.
func (s *FileStore) Load(context.Context) (event.Position, bool, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return event.Position{}, false, nil
	}
	if err != nil {
		return event.Position{}, false, fmt.Errorf("checkpoint file %s cannot be read: %w (fix its permissions; cachesync will not restart from the current position on its own)", s.Path, err)
	}
	var r fileRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return event.Position{}, false, fmt.Errorf("%s is damaged (%v, %d bytes): %s", s, err, len(data), damagedFix)
	}
	if r.Version != 1 || (r.File == "" && r.GTID == "") {
		return event.Position{}, false, fmt.Errorf("%s holds no usable position (version %d, file %q, gtid %q): %s", s, r.Version, r.File, r.GTID, damagedFix)
	}
	return event.Position{File: r.File, Pos: r.Pos, GTID: r.GTID}, true, nil
}

// Save implements Store.
func (s *FileStore) Save(_ context.Context, pos event.Position) error {
	data, err := json.Marshal(fileRecord{Version: 1, File: pos.File, Pos: pos.Pos, GTID: pos.GTID, SavedAt: s.now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	if err := writeAtomic(s.Path, append(data, '\n')); err != nil {
		return fmt.Errorf("save checkpoint %s at %s: %w", s.Path, pos, err)
	}
	return nil
}
