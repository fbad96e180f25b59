package kafkamsg

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cachesync/cachesync/event"
)

// DecodeError is why a message is not a valid v1 message. A consumer
// dead-letters such a message with Error() as the reason: retrying cannot
// help.
type DecodeError struct {
	Field  string // the JSON field at fault, e.g. "keys[3]"; "" for the message as a whole
	Reason string
	Err    error // the underlying parse error, if any
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "kafkamsg: not a v1 message: " + e.Reason
	}
	return fmt.Sprintf("kafkamsg: not a v1 message: field %q: %s", e.Field, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// NewerVersionError is a message of a format version newer than this
// package reads: written by an upgraded publisher during a rolling upgrade.
// Unlike a DecodeError it is not poison: a consumer that reads Version can
// handle it, so it must be neither dead-lettered nor committed past.
type NewerVersionError struct {
	Got int64 // the message's "v"
}

func (e *NewerVersionError) Error() string {
	return fmt.Sprintf("kafkamsg: message format version %d is newer than this consumer reads (version %d): "+
		"run a cachesync release that reads version %d on this consumer group", e.Got, Version, e.Got)
}

func derr(field, format string, args ...any) *DecodeError {
	return &DecodeError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Decode parses a v1 message strictly: the text must be UTF-8 JSON holding
// one object, with no duplicate field names; "v" must be 1; every required
// field must be present with its type; keys and row must come out byte for
// byte as they were written (a \u escape of a lone surrogate, which other
// decoders turn into U+FFFD, is refused). Fields it does not know are
// ignored: later v1 publishers may add optional ones. A message whose "v"
// is greater than Version fails with *NewerVersionError (checked before any
// other field: a later format may change them all); every other failure is
// a *DecodeError.
func Decode(b []byte) (Message, error) {
	if !utf8.Valid(b) {
		return Message{}, derr("", "not valid UTF-8; JSON text must be UTF-8 (a non-UTF-8 key is written as {\"b64\": ...})")
	}
	var d decoder
	if derror := d.fields.parse(b); derror != nil {
		return Message{}, derror
	}
	if err := checkVersion(&d.fields); err != nil {
		return Message{}, err
	}
	var m Message
	m.Source = d.str("source", true)
	m.DB = d.str("db", true)
	m.Table = d.str("table", true)
	m.Op = d.op()
	m.Row = d.bytesField("row")
	m.Pos.File = d.str("file", true)
	m.Pos.Pos = d.pos()
	m.Pos.GTID = d.str("gtid", false)
	m.TrxGTID = d.str("trx_gtid", false)
	m.CommitTime = d.ts()
	m.Keys = d.keys()
	m.Guarded = d.guarded(len(m.Keys))
	m.Sets = d.sets()
	if d.err != nil {
		return Message{}, d.err
	}
	if field, reason := m.validate(); reason != "" {
		return Message{}, derr(field, "%s", reason)
	}
	return m, nil
}

func checkVersion(fields *members) error {
	raw, ok := fields.get("v")
	if !ok {
		return derr("v", "missing: not a cachesync message, or one older than v1")
	}
	if raw[0] == '"' || raw[0] == '{' || raw[0] == '[' || raw[0] == 't' || raw[0] == 'f' || raw[0] == 'n' {
		return derr("v", "must be a number, got %s", jsonKind(raw))
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return derr("v", "must be an integer, got %s", raw)
	}
	if v > Version {
		return &NewerVersionError{Got: v}
	}
	if v != Version {
		return derr("v", "version %d is not supported: this consumer reads version %d only", v, Version)
	}
	return nil
}

// decoder keeps the first error, so Decode reads as a list of fields.
type decoder struct {
	fields members
	err    *DecodeError
}

func (d *decoder) fail(e *DecodeError) {
	if d.err == nil {
		d.err = e
	}
}

// get returns the field's raw value, failing when a required one is missing.
func (d *decoder) get(name string, required bool) (json.RawMessage, bool) {
	raw, ok := d.fields.get(name)
	if !ok && required {
		d.fail(derr(name, "missing (required)"))
	}
	return raw, ok
}

func (d *decoder) str(name string, required bool) string { return d.parsed(name, required, unquote) }

// parsed is the field's value as parse reads it ("" when it is missing);
// a parse error is reported against the field.
func (d *decoder) parsed(name string, required bool, parse func(json.RawMessage) (string, *DecodeError)) string {
	raw, ok := d.get(name, required)
	if !ok {
		return ""
	}
	s, err := parse(raw)
	if err != nil {
		err.Field = name
		d.fail(err)
	}
	return s
}

func (d *decoder) op() event.Op {
	s := d.str("op", true)
	switch s {
	case "insert":
		return event.OpInsert
	case "update":
		return event.OpUpdate
	case "delete":
		return event.OpDelete
	}
	if d.err == nil {
		d.fail(derr("op", "%q is not insert, update or delete", s))
	}
	return 0
}

func (d *decoder) pos() uint32 {
	raw, ok := d.get("pos", true)
	if !ok {
		return 0
	}
	p, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		d.fail(derr("pos", "must be an integer from 0 to 4294967295, got %s", shorten(raw)))
	}
	return uint32(p)
}

func (d *decoder) ts() time.Time {
	s := d.str("ts", true)
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(&DecodeError{Field: "ts", Reason: fmt.Sprintf("must be an RFC 3339 time, got %q", s), Err: err})
	}
	return t.UTC()
}

func (d *decoder) bytesField(name string) string { return d.parsed(name, true, byteString) }

func (d *decoder) keys() []string {
	raw, ok := d.get("keys", true)
	if !ok {
		return nil
	}
	if raw[0] != '[' {
		d.fail(derr("keys", "must be an array, got %s", jsonKind(raw)))
		return nil
	}
	elems := elements(raw) // checked by object
	keys := make([]string, len(elems))
	for i, e := range elems {
		k, err := byteString(e)
		if err != nil {
			err.Field = fmt.Sprintf("keys[%d]", i)
			d.fail(err)
			return nil
		}
		keys[i] = k
	}
	return keys
}

// guarded reads the optional "guarded": indexes into keys, ascending, each
// at most once. Refusing a malformed one (rather than ignoring it) keeps the
// decoder strict; a message without it deletes every key plainly.
func (d *decoder) guarded(nkeys int) []bool {
	raw, ok := d.get("guarded", false)
	if !ok || d.err != nil {
		return nil
	}
	if raw[0] != '[' {
		d.fail(derr("guarded", "must be an array of key indexes, got %s", jsonKind(raw)))
		return nil
	}
	var out []bool
	prev := -1
	for _, e := range elements(raw) {
		i, err := strconv.Atoi(string(e))
		switch {
		case err != nil:
			d.fail(derr("guarded", "must hold integer indexes into keys, got %s", shorten(e)))
			return nil
		case i <= prev || i >= nkeys:
			d.fail(derr("guarded", "index %d must be below %d (the number of keys) and above the one before it", i, nkeys))
			return nil
		}
		if out == nil {
			out = make([]bool, nkeys)
		}
		out[i] = true
		prev = i
	}
	return out
}

var strictBase64 = base64.StdEncoding.Strict()

// byteString reads a key or row: a JSON string, or {"b64": "..."} with
// exactly that one member. Any bytes may come in the b64 form, UTF-8 too.
func byteString(raw json.RawMessage) (string, *DecodeError) {
	switch raw[0] {
	case '"':
		return unquote(raw)
	case '{':
	default:
		return "", derr("", "must be a string or {\"b64\": string}, got %s", jsonKind(raw))
	}
	members, err := object(raw)
	if err != nil {
		return "", err
	}
	b64, ok := members.get("b64")
	if !ok || members.len() != 1 {
		return "", derr("", "an object key must have exactly one member, \"b64\"")
	}
	s, err := unquote(b64)
	if err != nil {
		err.Reason = "b64: " + err.Reason
		return "", err
	}
	out, berr := strictBase64.DecodeString(s)
	if berr != nil {
		return "", &DecodeError{Reason: "b64: not standard base64 with padding: " + berr.Error(), Err: berr}
	}
	return string(out), nil
}
