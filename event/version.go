package event

import (
	"cmp"
	"fmt"
	"time"
)

// Version orders the row changes of one source for write-through: the
// binlog file's index, the end position of the rows event in it, and the
// change's place in that event (Seq). Two changes of one server's binlog
// compare in the order the server wrote them. It does not compare across
// servers whose binlog files are numbered independently (a failover to a
// replica): see README "Write-through rules".
type Version struct {
	File uint32 // the binlog file's index: 7 for mysql-bin.000007
	Pos  uint32 // end position of the rows event
	Seq  uint32 // 2×row for the old image's tombstone, 2×row+1 for the new image
}

// VersionAt is the version of change seq of the rows event ending at p;
// ok is false when p's file name has no numeric index.
func VersionAt(p Position, seq int) (Version, bool) {
	_, n, ok := splitFile(p.File)
	if !ok || n > 0xffffffff || seq < 0 || seq > 0xffffff {
		return Version{}, false
	}
	return Version{File: uint32(n), Pos: p.Pos, Seq: uint32(seq)}, true
}

// Compare orders versions: -1, 0 or +1.
func (v Version) Compare(o Version) int {
	if c := cmp.Compare(v.File, o.File); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Pos, o.Pos); c != 0 {
		return c
	}
	return cmp.Compare(v.Seq, o.Seq)
}

// String is the version as the write-through script compares it: 22 hex
// digits of fixed width, so string order is version order (Lua compares
// strings bytewise; its numbers are doubles and would round).
// Written by hand: fmt.Sprintf was a fifth of the write-through encoding.
func (v Version) String() string {
	var b [22]byte
	putHex(b[0:8], v.File)
	putHex(b[8:16], v.Pos)
	putHex(b[16:22], v.Seq) // Seq < 1<<24 (VersionAt)
	return string(b[:])
}

// putHex writes x as len(b) lower-case hex digits, zero-padded.
func putHex(b []byte, x uint32) {
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[x&0xf]
		x >>= 4
	}
}

// Set is one write-through write: the row's new value into Key, or, with
// Delete, a tombstone (the key unlinked, its version kept so an older value
// replayed later cannot come back). Exactly one of JSON and Fields holds the
// value of a write that is not a tombstone.
type Set struct {
	Key     string
	Version Version
	Delete  bool
	JSON    []byte   // a json value
	Fields  []string // a hash value: field, value, field, value…
	TTL     time.Duration
}

// ParseVersion reads a version as String writes it. Written by hand, as
// String is: fmt.Sscanf was 40% of decoding a Kafka message with sets.
func ParseVersion(s string) (Version, error) {
	if len(s) != 22 {
		return Version{}, fmt.Errorf("version %q: want 22 hex digits", s)
	}
	var x [3]uint32
	for i, w := range [3][2]int{{0, 8}, {8, 16}, {16, 22}} {
		for _, c := range []byte(s[w[0]:w[1]]) {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			default:
				return Version{}, fmt.Errorf("version %q: want lower-case hex digits", s)
			}
			x[i] = x[i]<<4 | uint32(d)
		}
	}
	return Version{File: x[0], Pos: x[1], Seq: x[2]}, nil
}
