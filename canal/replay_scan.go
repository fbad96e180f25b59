package canal

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/source"
)

// binlogEvent is one row of SHOW BINLOG EVENTS.
type binlogEvent struct {
	pos, end uint32
	typ      string // as the server names it: Gtid, Query, Table_map, Xid, ...
	info     string
}

// listEvents lists up to limit events of file from pos. The file name and
// numbers are written into the statement because SHOW cannot take
// parameters; the name is quoted.
func listEvents(conn *client.Conn, file string, pos uint32, limit int) ([]binlogEvent, error) {
	q := fmt.Sprintf("SHOW BINLOG EVENTS IN '%s' FROM %d LIMIT %d", strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(file), pos, limit)
	res, err := conn.Execute(q)
	if err != nil {
		if source.ErrorCode(err) == mysql.ER_ERROR_WHEN_EXECUTING_COMMAND {
			return nil, fmt.Errorf("%s:%d is not the start of a binlog event (%w): use a position SHOW MASTER STATUS printed, or one from SHOW BINLOG EVENTS", file, pos, err)
		}
		return nil, fmt.Errorf("source: %s: %w", q, err)
	}
	evs := make([]binlogEvent, 0, res.RowNumber())
	for i := 0; i < res.RowNumber(); i++ {
		p, _ := res.GetUint(i, 1)
		typ, _ := res.GetString(i, 2)
		end, _ := res.GetUint(i, 4)
		info, _ := res.GetString(i, 5)
		evs = append(evs, binlogEvent{pos: uint32(p), end: uint32(end), typ: typ, info: info})
	}
	return evs, nil
}

// eventAt returns the event starting at p; typ is "" at the end of a file.
func eventAt(conn *client.Conn, p event.Position) (binlogEvent, error) {
	evs, err := listEvents(conn, p.File, p.Pos, 1)
	if err != nil || len(evs) == 0 {
		return binlogEvent{}, err
	}
	return evs[0], nil
}

// boundaryEvent reports whether an event may start a transaction or sits
// between transactions, so a position at it cuts no transaction in two.
func boundaryEvent(ev binlogEvent) bool {
	switch ev.typ {
	case "Gtid", "Anonymous_Gtid", "Format_desc", "Gtid_list", "Binlog_checkpoint",
		"Previous_gtids", "Rotate", "Stop", "Start_encryption", "Start_v3":
		return true
	case "Query": // BEGIN or a DDL; a COMMIT ends a non-transactional group
		return !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ev.info)), "COMMIT")
	}
	return false
}

// carriesNoRows reports events that are neither part of a transaction nor
// start one: what a quiet server appends after its last commit.
func carriesNoRows(typ string) bool {
	switch typ {
	case "Format_desc", "Gtid_list", "Binlog_checkpoint", "Previous_gtids", "Stop", "Start_encryption", "Heartbeat":
		return true
	}
	return false
}

// syncer opens a binlog connection for short reads (resolving a GTID or a
// time), with go-mysql's own logging off: its errors come back to us.
func (r *resolver) syncer() *replication.BinlogSyncer {
	host, portN := r.src.Addr, uint16(0) // a path: a unix socket, as go-mysql takes it
	if !strings.Contains(host, "/") {
		h, port, _ := net.SplitHostPort(r.src.Addr)
		n, _ := strconv.ParseUint(port, 10, 16) // connect already proved the address
		host, portN = h, uint16(n)
	}
	return replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: r.src.ServerID, Flavor: r.src.Flavor, Host: host, Port: portN,
		User: r.src.User, Password: r.src.Password.Reveal(), Charset: r.src.Charset,
		HeartbeatPeriod: time.Second, DisableRetrySync: true, MaxReconnectAttempts: 1,
		TimestampStringLocation: time.UTC, EventCacheCount: 64,
		Logger:    logging.Slog(r.log, slog.LevelError+4),
		Dialer:    (&net.Dialer{Timeout: r.src.DialTimeout()}).DialContext,
		TLSConfig: r.tls,
		// Only headers matter here: skip decoding row images.
		RowsEventDecodeFunc: func(e *replication.RowsEvent, data []byte) error {
			_, err := e.DecodeHeader(data)
			return err
		},
	})
}

// scanLimit bounds one resolving read of the binlog.
const scanLimit = 10 * time.Minute

func explainSyncErr(what string, err error) error {
	if source.ErrorCode(err) == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG || strings.Contains(err.Error(), "1236") {
		return fmt.Errorf("%w: %s is not in the server's binlog (purged, not written yet, or from another server): %v", ErrPositionGone, what, err)
	}
	return fmt.Errorf("reading the binlog from %s: %w", what, err)
}

// gtidStart finds where the first transaction not in set starts. The server
// itself seeks to it; a heartbeat means there is none yet: the end.
func (r *resolver) gtidStart(ctx context.Context, set mysql.GTIDSet) (event.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, scanLimit)
	defer cancel()
	s := r.syncer()
	defer s.Close()
	st, err := s.StartSyncGTID(set.Clone())
	if err != nil {
		return event.Position{}, explainSyncErr("GTID set "+set.String(), err)
	}
	var file string
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return event.Position{}, explainSyncErr("GTID set "+set.String(), err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
			continue
		case *replication.MariadbGTIDEvent, *replication.GTIDEvent:
			return r.clamp(event.Position{File: file, Pos: ev.Header.LogPos - ev.Header.EventSize}), nil
		}
		if isHeartbeat(ev.Header.EventType) {
			return r.clamp(event.Position{File: file, Pos: ev.Header.LogPos}), nil
		}
	}
}

func isHeartbeat(t replication.EventType) bool {
	return t == replication.HEARTBEAT_EVENT || t == replication.HEARTBEAT_LOG_EVENT_V2
}

// clamp keeps a resolved position at or before the primary's position when
// the replay started: anything after it happened after the replay began.
func (r *resolver) clamp(p event.Position) event.Position {
	if p.Compare(r.end) > 0 {
		return r.end
	}
	return p
}

// timeStart finds the first transaction that starts at or after at (whole
// seconds: the binlog keeps no finer time). A time before the oldest binlog
// file is refused: the transactions since then may be purged.
func (r *resolver) timeStart(ctx context.Context, at time.Time, flag string) (event.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, scanLimit)
	defer cancel()
	want := at.Unix()
	// The first file whose creation (its Format_desc timestamp) is after
	// the time; the transaction we want is in the file before it or later.
	var probeErr error
	idx := sort.Search(len(r.files), func(i int) bool {
		ts, err := r.fileStart(ctx, r.files[i].Name)
		if err != nil && probeErr == nil {
			probeErr = err
		}
		return ts > want
	})
	if probeErr != nil {
		return event.Position{}, probeErr
	}
	if idx == 0 && strings.HasSuffix(r.files[0].Name, ".000001") {
		idx = 1 // nothing was ever purged: the binlog starts after the time
	}
	if idx == 0 {
		ts, _ := r.fileStart(ctx, r.files[0].Name)
		return event.Position{}, fmt.Errorf("%w: the oldest binlog file on the server, %s, starts at %s, after %s: "+
			"transactions from that time are purged; use a later time, or `cachesync backfill` for the affected tables",
			ErrPositionGone, r.files[0].Name, time.Unix(ts, 0).UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	pos, err := r.scanForTime(ctx, r.files[idx-1].Name, want)
	if err != nil {
		return event.Position{}, err
	}
	if pos == r.end && flag == "--from" {
		return event.Position{}, fmt.Errorf("%w: no transaction at or after %s (the binlog ends at %s); times are RFC3339, check the time zone",
			ErrNothingToReplay, at.UTC().Format(time.RFC3339), r.end)
	}
	return pos, nil
}

// fileStart is the creation time of a binlog file (Unix seconds).
func (r *resolver) fileStart(ctx context.Context, file string) (int64, error) {
	s := r.syncer()
	defer s.Close()
	st, err := s.StartSync(mysql.Position{Name: file, Pos: 4})
	if err != nil {
		return 0, explainSyncErr(file, err)
	}
	for range 8 {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return 0, explainSyncErr(file, err)
		}
		if _, ok := ev.Event.(*replication.FormatDescriptionEvent); ok {
			return int64(ev.Header.Timestamp), nil
		}
	}
	return 0, fmt.Errorf("binlog file %s: no format description event at its start", file)
}

// scanForTime reads from file:4 until a transaction starts at or after
// want, or the primary's position when the replay started is reached.
func (r *resolver) scanForTime(ctx context.Context, file string, want int64) (event.Position, error) {
	s := r.syncer()
	defer s.Close()
	st, err := s.StartSync(mysql.Position{Name: file, Pos: 4})
	if err != nil {
		return event.Position{}, explainSyncErr(file, err)
	}
	var g groupTracker
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return event.Position{}, explainSyncErr(file, err)
		}
		if e, ok := ev.Event.(*replication.RotateEvent); ok {
			file = string(e.NextLogName)
			continue
		}
		if isHeartbeat(ev.Header.EventType) {
			return r.end, nil
		}
		start := event.Position{File: file, Pos: ev.Header.LogPos - ev.Header.EventSize}
		if start.Compare(r.end) >= 0 {
			return r.end, nil
		}
		if g.starts(ev) && int64(ev.Header.Timestamp) >= want {
			return start, nil
		}
	}
}

// groupTracker recognises the first event of each transaction: a GTID
// event, or without GTIDs (old MySQL) a BEGIN or a DDL outside a transaction.
type groupTracker struct{ inGroup bool }

func (g *groupTracker) starts(ev *replication.BinlogEvent) bool {
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent, *replication.GTIDEvent:
		g.inGroup = true
		return true
	case *replication.XIDEvent:
		g.inGroup = false
	case *replication.QueryEvent:
		q := strings.ToUpper(strings.TrimSpace(string(e.Query)))
		started := !g.inGroup
		g.inGroup = q == "BEGIN"
		return started
	}
	return false
}
