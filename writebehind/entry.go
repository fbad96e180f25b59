package writebehind

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Entry ops as the scripts write them.
const (
	OpSet  = "set"  // upsert Cols into the row
	OpDel  = "del"  // delete the row
	OpIncr = "incr" // upsert one column with the counter's new absolute value
)

// Entry is one decoded stream entry: a pending write of one row.
type Entry struct {
	ID    string
	Op    string // OpSet, OpDel or OpIncr
	DB    string
	Table string
	PK    map[string]any // column → value (json.Number, string, bool, nil, or JSON text)
	Cols  map[string]any // for OpSet and OpIncr
}

// PoisonError says why an entry can never be applied. The flusher moves
// such entries to the dead-letter stream with this reason.
type PoisonError struct {
	ID     string
	Reason string
}

func (e *PoisonError) Error() string { return fmt.Sprintf("entry %s: %s", e.ID, e.Reason) }

func poison(id, format string, args ...any) *PoisonError {
	return &PoisonError{ID: id, Reason: fmt.Sprintf(format, args...)}
}

// ParseEntry decodes the fields of a stream entry written by the scripts.
// Every error is a *PoisonError.
func ParseEntry(id string, fields map[string]any) (Entry, error) {
	get := func(k string) string { s, _ := fields[k].(string); return s }
	if v := get("v"); v != "1" {
		return Entry{}, poison(id, "field v is %q: this cachesync reads entries of version 1 only", v)
	}
	e := Entry{ID: id, Op: get("op")}
	db, table, ok := strings.Cut(get("table"), ".")
	if !ok || db == "" || table == "" {
		return Entry{}, poison(id, "field table is %q, want db.table", get("table"))
	}
	e.DB, e.Table = db, table
	var err error
	if e.PK, err = decodeObject(get("pk")); err != nil || len(e.PK) == 0 {
		return Entry{}, poison(id, "field pk must be a non-empty JSON object of primary key columns, got %q", get("pk"))
	}
	switch e.Op {
	case OpDel:
	case OpSet:
		if e.Cols, err = decodeObject(get("cols")); err != nil {
			return Entry{}, poison(id, "field cols must be a JSON object of columns: %v", err)
		}
	case OpIncr:
		col, num := get("col"), get("num")
		if col == "" {
			return Entry{}, poison(id, "field col (the counter's column) is missing")
		}
		if _, err := strconv.ParseInt(num, 10, 64); err != nil {
			return Entry{}, poison(id, "field num is %q, not an integer", num)
		}
		e.Cols = map[string]any{col: json.Number(num)}
	default:
		return Entry{}, poison(id, "field op is %q, want set, del or incr", e.Op)
	}
	return e, nil
}

// decodeObject reads a JSON object keeping numbers exact (json.Number) and
// nested objects and arrays as their JSON text.
func decodeObject(s string) (map[string]any, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("not an object: %q", s)
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = decodeValue(v)
	}
	return out, nil
}

func decodeValue(v json.RawMessage) any {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return nil
	case string(v) == "true":
		return true
	case string(v) == "false":
		return false
	case v[0] == '"':
		var s string
		_ = json.Unmarshal(v, &s) // valid: it came out of a decoded object
		return s
	case v[0] == '{' || v[0] == '[':
		return string(v)
	}
	return json.Number(v)
}

// CompareIDs orders two stream entry IDs ("ms-seq"): -1, 0 or 1. An ID that
// does not parse sorts first.
func CompareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		return cmpU(am, bm)
	default:
		return cmpU(as, bs)
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func splitID(id string) (ms, seq uint64) {
	m, s, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(s, 10, 64)
	return ms, seq
}

// IDMillis is the Unix time in milliseconds an entry ID was made at.
func IDMillis(id string) uint64 {
	ms, _ := splitID(id)
	return ms
}
