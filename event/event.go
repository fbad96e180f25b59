// Package event holds the typed values that flow between the tailer and the
// sinks. It has no dependencies on either side, so the tailer never imports a
// sink and a sink never imports the tailer.
package event

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is the kind of row change a batch came from.
type Op uint8

const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Position is a point in the primary's binlog: file/offset always, and the
// GTID set executed up to it when the source runs in GTID mode.
type Position struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	GTID string `json:"gtid,omitempty"`
}

// IsZero reports whether p names no position at all.
func (p Position) IsZero() bool { return p.File == "" && p.GTID == "" }

func (p Position) String() string {
	if p.GTID != "" {
		return fmt.Sprintf("%s:%d (gtid %s)", p.File, p.Pos, p.GTID)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

// Compare orders two positions of one server by file, then offset: -1, 0
// or 1; GTIDs are ignored. Binlog files are base.NNNNNN and the number
// decides, so mysql-bin.999999 comes before mysql-bin.1000000 (as in
// go-mysql's mysql.Position.Compare). Names without a numeric suffix, or
// with different bases, compare as strings; no file comes before any file.
// Positions of different servers (after a failover) are not ordered by
// this: compare their GTIDs instead.
func (p Position) Compare(o Position) int {
	if c := compareFiles(p.File, o.File); c != 0 {
		return c
	}
	return cmp.Compare(p.Pos, o.Pos)
}

func compareFiles(a, b string) int {
	ab, an, aok := splitFile(a)
	bb, bn, bok := splitFile(b)
	if aok && bok && ab == bb {
		return cmp.Compare(an, bn)
	}
	return strings.Compare(a, b)
}

func splitFile(s string) (base string, n uint64, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, 0, false
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	return s[:i], n, err == nil
}

// Batch is the unit of work between stages: the de-duplicated cache keys fed
// by one binlog rows event (a slice of one transaction). A transaction of any
// size streams through as many batches; none holds a whole transaction.
type Batch struct {
	// Seq is assigned by the checkpoint tracker; the sink acknowledges it
	// once every key is fully invalidated (second delete included).
	Seq        uint64
	DB         string
	Table      string
	Op         Op
	Rows       int      // row changes the keys came from
	Keys       []string // byte strings; may be any bytes, not only UTF-8
	Pos        Position // position of the rows event, for errors and logs
	CommitTime time.Time
	// LastCommit is the newest commit time of a batch merged from several
	// changes (the Kafka consumer's), whose CommitTime is the oldest; zero
	// when the batch has one commit time.
	LastCommit time.Time
	// GTID is the transaction's own GTID when the source writes them
	// (MariaDB domain-server-seq, MySQL uuid:n), "" otherwise. A batch
	// merged from several transactions (the Kafka consumer's) lists one per
	// domain or server uuid, the highest, comma-separated. The second
	// delete of delete.second: replicas waits for it on the replicas.
	GTID string

	// RowIDs and RowEnds split Keys by the row change they came from, for a
	// transport that keys its messages by row (Kafka): row i is RowIDs[i]
	// (see AppendRowID) and its keys are Keys[RowEnds[i-1]:RowEnds[i]], from
	// 0 for the first. Filled only when the tailer is asked to; a row whose
	// keys all went out with earlier rows of its transaction has no entry.
	RowIDs  []string
	RowEnds []int

	// Guarded marks the keys to delete only if the cache does not provably
	// hold write-behind's own value (the owned keys of the flusher's own row
	// writes; see writebehind.GuardScript): key i is guarded when
	// i < len(Guarded) && Guarded[i]. Keys past its end, and every key of a
	// batch whose Guarded is nil, are plain deletes, so a stage that ignores
	// Guarded deletes more, never less.
	Guarded []bool

	// Sets are the write-through writes of the batch's rows (rules with
	// action: set), in row order; Keys are still deleted.
	Sets []Set
}

// IsGuarded reports whether key i gets the guarded delete.
func (b *Batch) IsGuarded(i int) bool { return i < len(b.Guarded) && b.Guarded[i] }

// AddKey appends a key, guarded or plain.
func (b *Batch) AddKey(k string, guarded bool) {
	if guarded {
		for len(b.Guarded) < len(b.Keys) {
			b.Guarded = append(b.Guarded, false)
		}
		b.Guarded = append(b.Guarded, true)
	}
	b.Keys = append(b.Keys, k)
}

// guardOf returns the Guarded flags of Keys[start:end], nil when none is set.
func (b *Batch) guardOf(start, end int) []bool {
	if start >= len(b.Guarded) {
		return nil
	}
	g := b.Guarded[start:min(end, len(b.Guarded))]
	for _, v := range g {
		if v {
			return g
		}
	}
	return nil
}

// RowKeys calls fn for each row of b that has keys, with its identity, keys
// and their Guarded flags (nil when none is guarded; may be shorter than
// keys, see Guarded). Without row identities the whole batch is one row
// named db.table.
func (b *Batch) RowKeys(fn func(id string, keys []string, guarded []bool) error) error {
	if len(b.RowIDs) == 0 {
		return fn(b.DB+"."+b.Table, b.Keys, b.guardOf(0, len(b.Keys)))
	}
	start := 0
	for i, id := range b.RowIDs {
		end := b.RowEnds[i]
		if err := fn(id, b.Keys[start:end:end], b.guardOf(start, end)); err != nil {
			return err
		}
		start = b.RowEnds[i]
	}
	return nil
}

// AppendRowID appends a row's identity: the table and its primary key values,
// e.g. `shop.users:"42"` or `shop.items:"7","x"` (Go-quoted, so the result is
// valid UTF-8 whatever bytes the key holds, and no two rows of one table share
// it). A table without a primary key has the identity `db.table:` for every
// row. Every change of one row gets the same identity.
func AppendRowID(dst []byte, db, table string, pk ...[]byte) []byte {
	dst = append(dst, db...)
	dst = append(dst, '.')
	dst = append(dst, table...)
	dst = append(dst, ':')
	for i, v := range pk {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, string(v))
	}
	return dst
}

// Sink is the one contract between stages: it takes batches of keys. Send
// blocks while downstream is full, which is how a slow or unreachable
// Redis holds the tailer back with bounded memory. What a sink has taken it
// acknowledges to an Acker once the batch is completely done (both
// deletes), never before.
type Sink interface {
	Send(ctx context.Context, b *Batch) error
}

// Output is a Sink that runs on its own: the Redis deleter, the Kafka
// publisher, the dry-run printer. The tailer, replay and backfill all hand
// their batches to one. Run works until Close was called and everything
// sent is acknowledged, or until ctx ends (a hard stop: the rest stays
// unacknowledged). After Close, nothing more is sent.
type Output interface {
	Sink
	Run(ctx context.Context) error
	Close()
}

// Acker is told when a batch is completely done downstream.
type Acker interface {
	Done(seq uint64)
}

// AckerFunc adapts a function to Acker.
type AckerFunc func(seq uint64)

func (f AckerFunc) Done(seq uint64) { f(seq) }
