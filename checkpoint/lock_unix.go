//go:build unix

package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock takes an exclusive lock for this process on the checkpoint, so that
// a second instance configured with the same file refuses to start instead
// of streaming beside the first and overwriting its position. The lock is
// on Path + ".lock", a stable file beside the checkpoint (which each save
// replaces by rename, so its own inode changes); the lock file says who
// holds it (pid, host, since), for the second instance's message. The
// kernel drops the lock when the process ends, however it ends; release
// drops it earlier.
func (s *FileStore) Lock() (release func(), err error) {
	path := s.Path + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint.path %s: its directory %s does not exist: create it, or point checkpoint.path at a directory that does", s.Path, filepath.Dir(s.Path))
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint.path %s: cannot open the lock file beside it: %w (cachesync needs to create and write files in that directory)", s.Path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "holder unknown"
			}
			return nil, fmt.Errorf("checkpoint %s is in use by another cachesync (%s, per %s): two instances on one checkpoint would both stream and overwrite each other's position; "+
				"stop the other one, or give this one its own checkpoint.path and source.server_id (or use checkpoint.store: redis, where instances take turns)", s.Path, who, path)
		}
		return nil, fmt.Errorf("checkpoint.path %s: cannot lock %s: %w", s.Path, path, err)
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d on host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
