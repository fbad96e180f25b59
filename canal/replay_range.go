package canal

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// Range is a resolved, half-open binlog range: the transactions that start
// at or after From and end at or before To. Both ends are transaction
// boundaries on the server.
type Range struct {
	From, To event.Position
	files    []source.BinlogFile // the server's binlog files when resolved, for progress
}

func (r Range) String() string { return fmt.Sprintf("[%s, %s)", r.From, r.To) }

// Empty reports whether the range holds nothing.
func (r Range) Empty() bool { return r.From.Compare(r.To) >= 0 }

// Bytes is the size of the range in binlog bytes, and how much of it lies
// before p: the progress of a replay that has reached p.
func (r Range) Bytes(p event.Position) (done, total int64) {
	total = r.span(r.From, r.To)
	if p.IsZero() || p.Compare(r.From) <= 0 {
		return 0, total
	}
	if p.Compare(r.To) >= 0 {
		return total, total
	}
	return r.span(r.From, p), total
}

func (r Range) span(a, b event.Position) int64 {
	var n int64
	for _, f := range r.files {
		lo, hi := int64(0), f.Size
		if compareFiles(f.Name, a.File) < 0 || compareFiles(f.Name, b.File) > 0 {
			continue
		}
		if f.Name == a.File {
			lo = int64(a.Pos)
		}
		if f.Name == b.File {
			hi = int64(b.Pos)
		}
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}

// compareFiles orders binlog file names as event.Position.Compare does.
func compareFiles(a, b string) int {
	return event.Position{File: a}.Compare(event.Position{File: b})
}

type pointKind int

const (
	pointFilePos pointKind = iota + 1
	pointGTID
	pointTime
)

// point is a parsed --from or --to.
type point struct {
	kind pointKind
	raw  string
	pos  event.Position
	gtid mysql.GTIDSet
	at   time.Time
}

// parsePoint reads a binlog file:pos, a GTID set or an RFC3339 time. The
// forms overlap (a MariaDB GTID looks like a date, a time has colons), so
// anything that looks like a time but is not a complete RFC3339 one is
// refused rather than guessed.
func parsePoint(flavor, s string) (point, error) {
	s = strings.TrimSpace(s)
	p := point{raw: s}
	if s == "" {
		return p, errors.New("empty: give a binlog file:pos, a GTID set or an RFC3339 time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		p.kind, p.at = pointTime, t
		return p, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04"} {
		if _, err := time.Parse(layout, s); err == nil {
			return p, fmt.Errorf("%q looks like a time without a time zone or seconds: write it in RFC3339, e.g. 2026-11-26T10:00:00Z or 2026-11-26T11:00:00+01:00", s)
		}
	}
	if set, err := mysql.ParseGTIDSet(flavor, s); err == nil && set.String() != "" {
		p.kind, p.gtid = pointGTID, set
		return p, nil
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		if n, err := strconv.ParseUint(s[i+1:], 10, 32); err == nil {
			p.kind, p.pos = pointFilePos, event.Position{File: s[:i], Pos: uint32(n)}
			return p, nil
		}
	}
	return p, fmt.Errorf("%q is not a binlog position (file:pos as SHOW MASTER STATUS prints it, e.g. mysql-bin.000042:1337), "+
		"a %s GTID set (e.g. %s) or an RFC3339 time (e.g. 2026-11-26T10:00:00Z)", s, flavor, gtidExample(flavor))
}

func gtidExample(flavor string) string {
	if flavor == mysql.MariaDBFlavor {
		return "0-1-123"
	}
	return "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"
}

// ResolveRange turns --from and --to into positions on the server and
// checks them, so every bad input is reported before anything is deleted:
// a position or GTID the server no longer has, a position inside a
// transaction, --to before --from. An empty to means the primary's position
// now. src.ServerID is used for the short binlog reads a GTID or a time needs.
func ResolveRange(ctx context.Context, src config.SourceConfig, from, to string, log *zap.Logger) (Range, error) {
	fp, err := parsePoint(src.Flavor, from)
	if err != nil {
		return Range{}, fmt.Errorf("--from: %w", err)
	}
	var tp point
	if to != "" {
		if tp, err = parsePoint(src.Flavor, to); err != nil {
			return Range{}, fmt.Errorf("--to: %w", err)
		}
	}
	conn, err := source.Connect(ctx, src)
	if err != nil {
		return Range{}, err
	}
	defer conn.Close()
	files, err := source.BinaryLogs(conn)
	if err != nil {
		return Range{}, err
	}
	end, err := source.MasterPosition(conn, config.SourceConfig{Flavor: src.Flavor, Addr: src.Addr})
	if err != nil {
		return Range{}, err
	}
	tlsConf, err := source.TLS(src)
	if err != nil {
		return Range{}, err
	}
	res := &resolver{src: src, tls: tlsConf, conn: conn, files: files, end: end, log: log}
	rng := Range{To: end, files: files}
	if rng.From, err = res.resolve(ctx, fp, "--from"); err != nil {
		return Range{}, err
	}
	if to != "" {
		if rng.To, err = res.resolve(ctx, tp, "--to"); err != nil {
			return Range{}, err
		}
	}
	if rng.To.Compare(rng.From) < 0 {
		return Range{}, fmt.Errorf("--to %s (binlog %s) is before --from %s (binlog %s): swap them", tp.raw, rng.To, fp.raw, rng.From)
	}
	return rng, nil
}

// resolver holds what resolving one range needs: the server's binlog files
// and the primary's position when the replay started.
type resolver struct {
	src   config.SourceConfig
	tls   *tls.Config // source.tls, for the binlog reads
	conn  *client.Conn
	files []source.BinlogFile
	end   event.Position
	log   *zap.Logger
}

func (r *resolver) resolve(ctx context.Context, p point, flag string) (event.Position, error) {
	var pos event.Position
	var err error
	switch p.kind {
	case pointFilePos:
		pos, err = r.checkFilePos(p.pos)
	case pointGTID:
		pos, err = r.gtidStart(ctx, p.gtid)
	case pointTime:
		pos, err = r.timeStart(ctx, p.at, flag)
	}
	if err != nil {
		return event.Position{}, fmt.Errorf("%s %s: %w", flag, p.raw, err)
	}
	if p.kind != pointFilePos {
		r.log.Info("resolved replay bound", zap.String("flag", flag), zap.String("given", p.raw), zap.Stringer("position", pos))
	}
	return pos, nil
}

func (r *resolver) file(name string) (source.BinlogFile, error) {
	for _, f := range r.files {
		if f.Name == name {
			return f, nil
		}
	}
	oldest, newest := r.files[0].Name, r.files[len(r.files)-1].Name
	if compareFiles(name, oldest) < 0 && !strings.HasSuffix(oldest, ".000001") {
		return source.BinlogFile{}, fmt.Errorf("binlog file %s is no longer on the server (purged; the oldest is %s): "+
			"that part of the binlog cannot be replayed; run `cachesync backfill` for the affected tables instead", name, oldest)
	}
	return source.BinlogFile{}, fmt.Errorf("the server has no binlog file %s (it has %s … %s): use a name SHOW BINARY LOGS lists", name, oldest, newest)
}

// checkFilePos accepts a position only where a transaction may start: the
// start of an event that is not inside a transaction, or the end of a file.
func (r *resolver) checkFilePos(p event.Position) (event.Position, error) {
	f, err := r.file(p.File)
	if err != nil {
		return event.Position{}, err
	}
	if p.Pos < 4 {
		return event.Position{}, fmt.Errorf("offset %d is before the first event (offsets start at 4)", p.Pos)
	}
	if int64(p.Pos) > f.Size {
		return event.Position{}, fmt.Errorf("offset %d is past the end of %s (%d bytes)", p.Pos, f.Name, f.Size)
	}
	ev, err := eventAt(r.conn, p)
	if err != nil {
		return event.Position{}, err
	}
	if ev.typ != "" && !boundaryEvent(ev) {
		return event.Position{}, fmt.Errorf("%s is inside a transaction (the event there is %s): "+
			"use a position SHOW MASTER STATUS printed, or the position of a transaction's first event (Gtid or BEGIN) in SHOW BINLOG EVENTS", p, ev.typ)
	}
	return event.Position{File: p.File, Pos: p.Pos}, nil
}
