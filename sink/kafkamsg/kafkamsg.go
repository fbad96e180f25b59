// Package kafkamsg is the wire format of the Kafka transport, version 1: one
// JSON object per Kafka message value, naming the row change and the cache
// keys to delete. The format is a public contract (README, "Kafka message
// format v1"): other consumers read it, so it only ever grows optional
// fields; anything else is a new version.
//
// Keys are byte strings. A key that is valid UTF-8 is a JSON string; any
// other key is {"b64": "<standard base64 with padding>"}, so every byte
// survives the round trip (encoding/json would silently turn invalid UTF-8
// into U+FFFD and delete the wrong key).
package kafkamsg

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cachesync/cachesync/event"
)

// Version is the value of the "v" field this package writes and reads.
const Version = 1

// Message is one row change (or one chunk of its keys, see Split) on its way
// from the tailer to the deleting consumers.
type Message struct {
	Source     string         // the MySQL source the change came from, as the publisher names it
	DB, Table  string         // where the row lives
	Op         event.Op       // insert, update or delete
	Row        string         // row identity and Kafka message key; see RowIdentity
	Pos        event.Position // binlog position of the rows event; GTID when the source has one
	CommitTime time.Time      // the transaction's commit time; written in UTC
	Keys       []string       // cache keys to delete; any bytes, never empty
	// Guarded marks the keys whose delete is guarded (see event.Batch):
	// Keys[i] is guarded when i < len(Guarded) && Guarded[i]. Written as the
	// optional field "guarded", the indexes of those keys; a consumer that
	// does not know the field deletes them plainly, which is safe.
	Guarded []bool
	// TrxGTID is the GTID of the change's transaction (MariaDB
	// domain-server-seq, MySQL uuid:n; event.Batch.GTID), written as the
	// optional field "trx_gtid": a consumer with delete.second: replicas
	// waits for the replicas to apply it before the second delete.
	TrxGTID string
	// Sets are the row's write-through writes (optional "sets"); each
	// set key is also in Keys, for consumers that do not read Sets.
	Sets []event.Set
}

// RowIdentity returns the Kafka message key of a row: see event.AppendRowID.
func RowIdentity(db, table string, pk ...string) string {
	vals := make([][]byte, len(pk))
	for i, v := range pk {
		vals[i] = []byte(v)
	}
	return string(event.AppendRowID(nil, db, table, vals...))
}

// Encode returns m as format v1. It refuses a message that Decode would
// refuse (see validate), so nothing the tailer publishes is dead-lettered.
func Encode(m Message) ([]byte, error) {
	if field, reason := m.validate(); reason != "" {
		return nil, fmt.Errorf("kafkamsg: encode %s.%s at %s: %s: %s", m.DB, m.Table, m.Pos, field, reason)
	}
	size := 160 + len(m.Source) + len(m.DB) + len(m.Table) + len(m.Row) + len(m.Pos.File) + len(m.Pos.GTID) + len(m.TrxGTID)
	for _, k := range m.Keys {
		size += len(k) + 4
	}
	for i := range m.Sets {
		size += len(m.Sets[i].Key) + len(m.Sets[i].JSON) + 64
		for _, f := range m.Sets[i].Fields {
			size += len(f) + 3
		}
	}
	return m.appendJSON(make([]byte, 0, size), m.Keys, m.Guarded), nil
}

// validate names the first field that breaks the format's rules, the same
// rules for Encode and Decode. Text fields must be valid UTF-8 because
// JSON cannot carry anything else without a b64 wrapper, and only keys and
// row have one.
func (m *Message) validate() (field, reason string) {
	for _, f := range []struct{ name, val string }{
		{"source", m.Source}, {"db", m.DB}, {"table", m.Table}, {"file", m.Pos.File},
	} {
		if f.val == "" {
			return f.name, "required, must not be empty"
		}
		if !utf8.ValidString(f.val) {
			return f.name, "not valid UTF-8"
		}
	}
	if !utf8.ValidString(m.Pos.GTID) {
		return "gtid", "not valid UTF-8"
	}
	if !utf8.ValidString(m.TrxGTID) {
		return "trx_gtid", "not valid UTF-8"
	}
	if m.Op < event.OpInsert || m.Op > event.OpDelete {
		return "op", fmt.Sprintf("%v is not insert, update or delete", m.Op)
	}
	if m.Row == "" {
		return "row", "required, must not be empty"
	}
	if m.CommitTime.IsZero() {
		return "ts", "required, must not be the zero time"
	}
	if y := m.CommitTime.UTC().Year(); y < 0 || y > 9999 {
		return "ts", fmt.Sprintf("year %d is outside RFC 3339 (0000-9999)", y)
	}
	if len(m.Keys) == 0 {
		return "keys", "required, must hold at least one key"
	}
	for i, k := range m.Keys {
		if k == "" {
			// cachesync never deletes "": an empty key is a bug upstream.
			return fmt.Sprintf("keys[%d]", i), "empty key"
		}
	}
	if len(m.Sets) > 0 {
		in := make(map[string]bool, len(m.Keys))
		for _, k := range m.Keys {
			in[k] = true
		}
		for i := range m.Sets {
			if !in[m.Sets[i].Key] {
				return fmt.Sprintf("sets[%d].key", i), "must also be in keys, so a consumer that does not read sets deletes it"
			}
		}
	}
	if len(m.Guarded) > len(m.Keys) {
		return "guarded", fmt.Sprintf("%d flags for %d keys", len(m.Guarded), len(m.Keys))
	}
	return "", ""
}

// appendJSON writes m with the given keys (m.Keys or a chunk of them) and
// their guarded flags. The field order is fixed, keys and then the optional
// guarded last, so a message is readable when cut short in a log; consumers
// must not depend on the order.
func (m *Message) appendJSON(b []byte, keys []string, guarded []bool) []byte {
	b = append(b, `{"v":1,"source":`...)
	b = appendString(b, m.Source)
	b = append(b, `,"db":`...)
	b = appendString(b, m.DB)
	b = append(b, `,"table":`...)
	b = appendString(b, m.Table)
	b = append(b, `,"op":"`...)
	b = append(b, m.Op.String()...)
	b = append(b, `","row":`...)
	b = appendBytes(b, m.Row)
	b = append(b, `,"file":`...)
	b = appendString(b, m.Pos.File)
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, uint64(m.Pos.Pos), 10)
	if m.Pos.GTID != "" {
		b = append(b, `,"gtid":`...)
		b = appendString(b, m.Pos.GTID)
	}
	if m.TrxGTID != "" {
		b = append(b, `,"trx_gtid":`...)
		b = appendString(b, m.TrxGTID)
	}
	b = append(b, `,"ts":"`...)
	b = m.CommitTime.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","keys":[`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBytes(b, k)
	}
	b = append(b, ']')
	first := true
	for i, g := range guarded {
		if !g || i >= len(keys) {
			continue
		}
		if first {
			b = append(b, `,"guarded":[`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(i), 10)
	}
	if !first {
		b = append(b, ']')
	}
	b = appendSets(b, m.Sets)
	return append(b, '}')
}

// appendBytes writes a byte string: a JSON string when it is valid UTF-8,
// else {"b64":"..."}.
func appendBytes(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendString(b, s)
	}
	b = append(b, `{"b64":"`...)
	b = base64.StdEncoding.AppendEncode(b, []byte(s))
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s, which must be valid UTF-8, as a JSON string,
// escaping only what JSON requires (no HTML escaping: < > & stay readable).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
