package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Blob is bytes kept beside the checkpoint: a file next to it (FileBlob),
// or a Redis key beside a shared checkpoint, under the same fencing, so the
// instance that takes over reads what its predecessor saved.
type Blob interface {
	// Load returns nil, nil when nothing was saved yet.
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, data []byte) error
	String() string // where it is kept, for errors
}

// FileBlob keeps a Blob in a file, replaced atomically.
type FileBlob struct{ Path string }

func (f FileBlob) String() string { return f.Path }

// Load implements Blob.
func (f FileBlob) Load(context.Context) ([]byte, error) {
	raw, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return raw, err
}

// Save implements Blob.
func (f FileBlob) Save(_ context.Context, raw []byte) error { return writeAtomic(f.Path, raw) }

// writeAtomic replaces the file at path with data: written to a temporary
// file beside it, synced, renamed over it, and the rename made durable
// where the filesystem supports it. A crash leaves the old file or the new
// one, never a torn one.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // makes the rename durable; not all filesystems support it
		d.Close()
	}
	return nil
}
