//go:build unix

package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/event"
)

func TestFileStoreLockRefusesASecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cachesync.pos")
	first := &FileStore{Path: path}
	release, err := first.Lock()
	if err != nil {
		t.Fatal(err)
	}
	// A save replaces the checkpoint by rename: the lock is unaffected.
	if err := first.Save(t.Context(), event.Position{File: "binlog.000001", Pos: 4}); err != nil {
		t.Fatal(err)
	}
	_, err = (&FileStore{Path: path}).Lock()
	if err == nil {
		t.Fatal("a second lock on the same checkpoint was granted")
	}
	for _, want := range []string{path, "another cachesync", fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	release()
	again, err := (&FileStore{Path: path}).Lock()
	if err != nil {
		t.Fatalf("the lock is not free after release: %v", err)
	}
	again()

	_, err = (&FileStore{Path: filepath.Join(t.TempDir(), "missing", "cachesync.pos")}).Lock()
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing directory: %v", err)
	}
}
