package checkpoint

import (
	"path/filepath"
	"testing"
)

func TestFileBlob(t *testing.T) {
	b := FileBlob{Path: filepath.Join(t.TempDir(), "cp.schemas")}
	if raw, err := b.Load(t.Context()); raw != nil || err != nil {
		t.Fatalf("nothing saved yet: Load = %q, %v; want nil, nil", raw, err)
	}
	for _, want := range []string{"one", "two"} {
		if err := b.Save(t.Context(), []byte(want)); err != nil {
			t.Fatal(err)
		}
		if raw, err := b.Load(t.Context()); string(raw) != want || err != nil {
			t.Fatalf("Load = %q, %v; want %q", raw, err, want)
		}
	}
	if left, _ := filepath.Glob(b.Path + ".tmp-*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
