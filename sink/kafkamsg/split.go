package kafkamsg

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/cachesync/cachesync/event"
)

// KeyTooLargeError is Split's refusal of a key that cannot fit in a message
// alone: no setting of the split fixes it, so a publisher decides by this
// type what to do instead (cachesync deletes such a change straight from
// Redis).
type KeyTooLargeError struct {
	DB, Table string
	Pos       string // the message's binlog position, as text
	Index     int    // the key's index in the message's keys
	Key       string
	Encoded   int // its size in the message
	MaxBytes  int
	Fixed     int // taken by the other fields, the row key and the record framing
}

func (e *KeyTooLargeError) Error() string {
	return fmt.Sprintf("kafkamsg: split %s.%s at %s: key %d (%d bytes, %d encoded) cannot fit in a message of at most %d bytes (%d taken by the other fields, the row key and the record framing); a key is never split",
		e.DB, e.Table, e.Pos, e.Index, len(e.Key), e.Encoded, e.MaxBytes, e.Fixed)
}

// RecordOverhead is what Split reserves for the framing of a record and of a
// one-record batch around the value and the key: kafka-go counts 22 bytes
// per record, the broker 61 per batch plus up to about 30 per record.
// Headers, if a publisher adds any, must come out of maxBytes too.
const RecordOverhead = 128

// Split returns m as one or more messages, each with a consecutive run of
// m.Keys in order, so that every message's encoded value plus its key
// (m.Row) plus RecordOverhead is at most maxBytes (the publisher's
// transport.kafka.max_message_bytes). A key is never split: a key too big
// to fit alone is a *KeyTooLargeError naming it. A message that fits comes
// back unchanged, as the only element. Every chunk repeats every other field, so each is a complete
// message a consumer handles on its own.
func Split(m Message, maxBytes int) ([]Message, error) {
	if len(m.Sets) > 0 && len(appendSets(nil, m.Sets)) > maxBytes/2 {
		// Values this large go as invalidations: their keys are in Keys.
		m.Sets = nil
	}
	if field, reason := m.validate(); reason != "" {
		return nil, fmt.Errorf("kafkamsg: split %s.%s at %s: %s: %s", m.DB, m.Table, m.Pos, field, reason)
	}
	// The encoded size is the size with no keys plus each key's element
	// plus the commas between them; appendJSON and appendBytes are the
	// very functions Encode uses, so the arithmetic cannot drift.
	fixed := len(m.appendJSON(nil, nil, nil)) + len(m.Row) + RecordOverhead
	if slices.Contains(m.Guarded, true) {
		fixed += len(`,"guarded":[]`)
	}
	budget := maxBytes - fixed
	var (
		out     []Message
		scratch []byte
		start   int
		used    int
	)
	for i, k := range m.Keys {
		scratch = appendBytes(scratch[:0], k)
		n := len(scratch)
		if i < len(m.Guarded) && m.Guarded[i] {
			// Its index in the chunk, at most i, and a comma: counted as
			// if the chunk started at 0, which can only overestimate.
			n += len(strconv.Itoa(i)) + 1
		}
		if n > budget {
			return nil, &KeyTooLargeError{DB: m.DB, Table: m.Table, Pos: m.Pos.String(), Index: i, Key: k, Encoded: n, MaxBytes: maxBytes, Fixed: fixed}
		}
		if i > start {
			n++ // the comma
		}
		if used+n > budget {
			out = append(out, m.withKeys(start, i))
			start, n = i, n-1
			used = 0
		}
		used += n
	}
	if start == 0 {
		return []Message{m}, nil
	}
	return append(out, m.withKeys(start, len(m.Keys))), nil
}

// withKeys returns m with Keys[start:end] and their guarded flags.
func (m Message) withKeys(start, end int) Message {
	m.Sets = setsIn(m.Sets, m.Keys[start:end])
	m.Keys = m.Keys[start:end:end]
	if start < len(m.Guarded) {
		g := m.Guarded[start:min(end, len(m.Guarded))]
		m.Guarded = g[:len(g):len(g)]
	} else {
		m.Guarded = nil
	}
	return m
}

// setsIn are the sets whose key is among keys: a set travels with its key,
// which older consumers delete.
func setsIn(sets []event.Set, keys []string) []event.Set {
	if len(sets) == 0 {
		return nil
	}
	in := make(map[string]bool, len(keys))
	for _, k := range keys {
		in[k] = true
	}
	var out []event.Set
	for _, s := range sets {
		if in[s.Key] {
			out = append(out, s)
		}
	}
	return out
}

// AppendEncoded appends m's encoded parts to dst: the same messages as
// Split followed by Encode of each, and each part's value is a full slice
// of dst's buffer (so one buffer can hold every message of a batch; a part
// stays valid when a later append moves dst). The common case — a message
// well inside maxBytes — is encoded once, without Split's sizing pass.
func AppendEncoded(dst []byte, m Message, maxBytes int) (out []byte, parts [][]byte, err error) {
	if field, reason := m.validate(); reason != "" {
		return dst, nil, fmt.Errorf("kafkamsg: encode %s.%s at %s: %s: %s", m.DB, m.Table, m.Pos, field, reason)
	}
	start := len(dst)
	dst = m.appendJSON(dst, m.Keys, m.Guarded)
	n := len(dst) - start
	// At most half of maxBytes: Split would keep the sets too (they are
	// shorter than the whole) and return m as it is.
	if n+len(m.Row)+RecordOverhead <= maxBytes && (len(m.Sets) == 0 || n <= maxBytes/2) {
		return dst, [][]byte{dst[start:len(dst):len(dst)]}, nil
	}
	dst = dst[:start]
	chunks, err := Split(m, maxBytes)
	if err != nil {
		return dst, nil, err
	}
	for _, c := range chunks {
		s := len(dst)
		dst = c.appendJSON(dst, c.Keys, c.Guarded)
		parts = append(parts, dst[s:len(dst):len(dst)])
	}
	return dst, parts, nil
}
