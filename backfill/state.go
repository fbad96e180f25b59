package backfill

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// State is the resume file: how far a backfill got. It is rewritten
// (temp file, fsync, rename, fsync dir) after every finished chunk, so a
// crash loses at most the chunks whose deletes were in flight.
type State struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	Where   string `json:"where"`
	// Cursor is the primary key of the last row of the last finished
	// chunk; empty before the first one finished.
	Cursor       []CursorValue `json:"cursor"`
	Rows         int64         `json:"rows"`
	Keys         int64         `json:"keys"`
	NullSkipped  int64         `json:"null_skipped"`
	EmptySkipped int64         `json:"empty_skipped"`
	Chunks       int64         `json:"chunks"`
	Done         bool          `json:"done"`
	StartedAt    string        `json:"started_at"`
	UpdatedAt    string        `json:"updated_at"`
}

// CursorValue is one primary-key value, typed so it goes back to the
// server as the same kind of parameter: int, uint, float or bytes (base64).
type CursorValue struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

const stateVersion = 1

func encodeCursor(cur []any) []CursorValue {
	out := make([]CursorValue, len(cur))
	for i, v := range cur {
		switch x := v.(type) {
		case int64:
			out[i] = CursorValue{"int", strconv.FormatInt(x, 10)}
		case uint64:
			out[i] = CursorValue{"uint", strconv.FormatUint(x, 10)}
		case float64:
			out[i] = CursorValue{"float", strconv.FormatFloat(x, 'g', -1, 64)}
		case string:
			out[i] = CursorValue{"bytes", base64.StdEncoding.EncodeToString([]byte(x))}
		default:
			out[i] = CursorValue{"null", ""}
		}
	}
	return out
}

func decodeCursor(cv []CursorValue) ([]any, error) {
	out := make([]any, len(cv))
	for i, c := range cv {
		var err error
		switch c.Kind {
		case "int":
			out[i], err = strconv.ParseInt(c.Value, 10, 64)
		case "uint":
			out[i], err = strconv.ParseUint(c.Value, 10, 64)
		case "float":
			out[i], err = strconv.ParseFloat(c.Value, 64)
		case "bytes":
			var b []byte
			b, err = base64.StdEncoding.DecodeString(c.Value)
			out[i] = string(b)
		default:
			err = fmt.Errorf("unknown kind %q", c.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("cursor value %d: %w", i, err)
		}
	}
	return out, nil
}

// loadState reads the state file; ok is false when there is none.
func loadState(path string) (st State, ok bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("backfill state file %s cannot be read: %w", path, err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return State{}, false, fmt.Errorf("backfill state file %s is corrupt (%v): delete it to start the backfill over", path, err)
	}
	if st.Version != stateVersion {
		return State{}, false, fmt.Errorf("backfill state file %s has version %d, this cachesync reads %d: delete it to start over", path, st.Version, stateVersion)
	}
	return st, true, nil
}

// saveState writes the state atomically: a reader (or a crash) sees the old
// file or the new one, never a torn one.
func saveState(path string, st State) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backfill state %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("backfill state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("backfill state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backfill state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backfill state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself is durable only once the directory is
		d.Close()
	}
	return nil
}
