package kafkamsg

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cachesync/cachesync/event"
)

// The optional "sets" field carries a message's write-through writes
// (rules with action: set). It is a compatible addition to v1: every set
// key is also in "keys", so a consumer that does not know "sets" deletes
// those keys (cache-aside, always safe), while one that does writes them
// through the versioned script instead of deleting them.

// appendSets appends ,"sets":[…] for sets (nothing when there are none).
func appendSets(b []byte, sets []event.Set) []byte {
	if len(sets) == 0 {
		return b
	}
	b = append(b, `,"sets":[`...)
	for i := range sets {
		s := &sets[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendBytes(b, s.Key)
		b = append(b, `,"version":"`...)
		b = append(b, s.Version.String()...)
		b = append(b, '"')
		switch {
		case s.Delete:
			b = append(b, `,"delete":true`...)
		case s.Fields != nil:
			b = append(b, `,"hash":[`...)
			for j, f := range s.Fields {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendBytes(b, f)
			}
			b = append(b, ']')
		default:
			b = append(b, `,"json":`...)
			b = appendBytes(b, string(s.JSON))
		}
		if s.TTL > 0 {
			b = append(b, `,"ttl_ms":`...)
			b = strconv.AppendInt(b, s.TTL.Milliseconds(), 10)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// sets reads the optional "sets" field strictly: each element an object
// with key, version and exactly one of delete: true, json or hash.
func (d *decoder) sets() []event.Set {
	raw, ok := d.get("sets", false)
	if !ok || d.err != nil {
		return nil
	}
	if raw[0] != '[' {
		d.fail(derr("sets", "must be an array, got %s", jsonKind(raw)))
		return nil
	}
	var out []event.Set
	for i, e := range elements(raw) {
		s, err := decodeSet(e)
		if err != nil {
			err.Field = fmt.Sprintf("sets[%d]%s", i, err.Field)
			d.fail(err)
			return nil
		}
		out = append(out, s)
	}
	return out
}

func decodeSet(raw json.RawMessage) (event.Set, *DecodeError) {
	var s event.Set
	if raw[0] != '{' {
		return s, derr("", "must be an object, got %s", jsonKind(raw))
	}
	members, err := object(raw)
	if err != nil {
		return s, err
	}
	key, ok := members.get("key")
	if !ok {
		return s, derr(".key", "missing (required)")
	}
	if s.Key, err = byteString(key); err != nil || s.Key == "" {
		return s, orEmpty(err, ".key", "empty key")
	}
	ver, ok := members.get("version")
	if !ok {
		return s, derr(".version", "missing (required)")
	}
	vs, err := unquote(ver)
	if err != nil {
		return s, orEmpty(err, ".version", "")
	}
	v, perr := event.ParseVersion(vs)
	if perr != nil {
		return s, &DecodeError{Field: ".version", Reason: perr.Error(), Err: perr}
	}
	s.Version = v
	forms := 0
	if del, ok := members.get("delete"); ok {
		if string(del) != "true" {
			return s, derr(".delete", "must be true when present, got %s", shorten(del))
		}
		s.Delete, forms = true, forms+1
	}
	if j, ok := members.get("json"); ok {
		js, err := byteString(j)
		if err != nil {
			return s, orEmpty(err, ".json", "")
		}
		s.JSON, forms = []byte(js), forms+1
	}
	if h, ok := members.get("hash"); ok {
		if h[0] != '[' {
			return s, derr(".hash", "must be an array, got %s", jsonKind(h))
		}
		s.Fields, forms = []string{}, forms+1
		for _, f := range elements(h) {
			fv, err := byteString(f)
			if err != nil {
				return s, orEmpty(err, ".hash", "")
			}
			s.Fields = append(s.Fields, fv)
		}
		if len(s.Fields)%2 != 0 {
			return s, derr(".hash", "must hold field, value pairs, got %d elements", len(s.Fields))
		}
	}
	if forms != 1 {
		return s, derr("", "must have exactly one of delete, json and hash, got %d", forms)
	}
	if t, ok := members.get("ttl_ms"); ok {
		ms, perr := strconv.ParseInt(string(t), 10, 64)
		if perr != nil || ms < 0 {
			return s, derr(".ttl_ms", "must be a non-negative integer, got %s", shorten(t))
		}
		s.TTL = time.Duration(ms) * time.Millisecond
	}
	return s, nil
}

func orEmpty(err *DecodeError, field, reason string) *DecodeError {
	if err == nil {
		return derr(field, "%s", reason)
	}
	err.Field = field
	return err
}
