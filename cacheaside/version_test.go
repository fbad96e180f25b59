package cacheaside_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/internal/testenv"
)

// versionOf reads the version a test value carries after "v=", up to ";".
func versionOf(v []byte) (int64, bool) {
	s, ok := strings.CutPrefix(string(v), "v=")
	if !ok {
		return 0, false
	}
	s, _, _ = strings.Cut(s, ";")
	var n int64
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int64(r-'0')
	}
	return n, s != ""
}

// TestVersionStamp: with Config.Version a fill stores the version beside
// the value, StoredVersion reads it back from the raw key, and Get (hit and
// miss) still returns the caller's bytes, also ones that start with Prefix.
func TestVersionStamp(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client(t)
	c := newClient(t, rdb, cacheaside.Config{TTL: time.Minute, Version: versionOf})
	calls := 0
	const val = "v=42;名前=Zoë 🚀"
	if got := get(t, c, "user:ü🚀", value(val, &calls)); got != val {
		t.Fatalf("miss returned %q", got)
	}
	raw, err := rdb.Get(ctx, "user:ü🚀").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := cacheaside.StoredVersion(raw); !ok || v != 42 {
		t.Errorf("StoredVersion(%q) = %d %v, want 42", raw, v, ok)
	}
	if got := get(t, c, "user:ü🚀", noLoad(t)); got != val {
		t.Errorf("hit returned %q, want %q", got, val)
	}

	// A value the function finds no version in is stored as it is.
	if got := get(t, c, "user:2", value("plain", &calls)); got != "plain" {
		t.Errorf("got %q", got)
	}
	if raw, _ := rdb.Get(ctx, "user:2").Bytes(); string(raw) != "plain" {
		t.Errorf("unversioned value stored as %q", raw)
	}
	if _, ok := cacheaside.StoredVersion([]byte("plain")); ok {
		t.Error("StoredVersion found a version in a plain value")
	}

	// A versioned value that itself starts with Prefix needs no escape.
	tricky := "v=7;x" + cacheaside.Prefix + "V9:"
	if got := get(t, c, "user:3", value(tricky, &calls)); got != tricky {
		t.Errorf("got %q", got)
	}
	if got := get(t, c, "user:3", noLoad(t)); got != tricky {
		t.Errorf("hit %q, want %q", got, tricky)
	}
	raw, _ = rdb.Get(ctx, "user:3").Bytes()
	if v, ok := cacheaside.StoredVersion(raw); !ok || v != 7 {
		t.Errorf("StoredVersion = %d %v, want 7", v, ok)
	}

	// A client without Version reads stamped values written by one with it.
	plain := newClient(t, rdb, cacheaside.Config{TTL: time.Minute})
	if got := get(t, plain, "user:ü🚀", noLoad(t)); got != val {
		t.Errorf("unversioned client read %q, want %q", got, val)
	}
}

func TestStoredVersionMalformed(t *testing.T) {
	for _, s := range []string{
		cacheaside.Prefix + "V:x", cacheaside.Prefix + "Vabc:x", cacheaside.Prefix + "V12",
		cacheaside.Prefix + "N", cacheaside.Prefix + "E" + "x", "", cacheaside.Prefix + "V99999999999999999999:x",
	} {
		if v, ok := cacheaside.StoredVersion([]byte(s)); ok {
			t.Errorf("StoredVersion(%q) = %d, want not ok", s, v)
		}
	}
	if v, ok := cacheaside.StoredVersion([]byte(cacheaside.Prefix + "V-3:")); !ok || v != -3 {
		t.Errorf("negative version: %d %v", v, ok)
	}
}
