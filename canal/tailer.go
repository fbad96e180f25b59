// Package canal is the binlog tailer: it follows the primary's row-based
// binlog with go-mysql canal, turns each committed row change of a mapped
// table into cache keys (package keys), and hands them to a Sink. Beside the
// stream it keeps what reading it needs: XA groups, DDL and the schema
// history, the write-behind flusher's echo marks, the detection of changes
// it cannot turn into keys, and the replay of a past binlog range. The rest
// of the MySQL side (dial, positions, checks) is package source. It never
// imports a sink; cmd wires the two together.
package canal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/logging"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/source"
)

// Tailer follows the binlog. Build it with New.
type Tailer struct {
	cfg     config.SourceConfig
	rules   []*config.Rule
	sink    event.Sink
	tracker *checkpoint.Tracker
	log     *zap.Logger
	metrics *metrics.Metrics
	backoff retry.Backoff

	// DedupLimit bounds the per-transaction de-duplication set; past it the
	// set starts over (a repeated delete is harmless, unbounded memory is not).
	DedupLimit int
	// XAKeyLimit bounds the keys kept for prepared XA transactions until
	// their commit (xa.go); keys past it are deleted at the prepare only,
	// with a warning.
	XAKeyLimit int
	// XAStore, if set, keeps the keys of open XA prepares beside the
	// checkpoint, so a restart between prepare and commit still deletes
	// them again at the commit (xa.go).
	XAStore checkpoint.Blob
	// History, if set, keeps the schemas in force at each position so rows
	// older than a DDL decode with their own columns after a restart.
	History *SchemaHistory
	// RowIdentity makes every batch say which row each key came from
	// (event.Batch.RowIDs), for a transport that keys messages by row.
	RowIdentity bool
	// WriteThrough lets set rules (action: set) write values: the
	// transport carries event.Batch.Sets. Off, their set keys are deleted.
	WriteThrough bool
	// Backfill, if set, serves source.on_statement_dml: backfill
	// (binlogmode.go) and source.on_schema_doubt: backfill (doubt.go).
	Backfill Backfill
	// Scan, if set, serves on_truncate: scan and cascade scan: true
	// (norows.go); unset, those are logged as on_truncate: warn.
	Scan ScanKeys
	// OnState, if set, hears when the binlog stream is up (err nil: the
	// server sent the first event) and when it broke (err: why).
	OnState func(up bool, err error)
	// Rows, if set, hears sampled row changes of the rules with observe,
	// for the consistency observer (observe.go).
	Rows RowObserver

	loc     *time.Location // TIMESTAMP keys render in it; see resolveTimeZone
	lag     atomic.Int64   // see Lag
	lagPeak atomic.Int64   // see TakeLagPeak
}

// observeLag notes the commit time of the event just read (0: an event
// without one, such as a fake rotate).
func (t *Tailer) observeLag(ts uint32) {
	if ts == 0 {
		return
	}
	lag := time.Since(time.Unix(int64(ts), 0))
	t.lag.Store(int64(lag))
	for {
		peak := t.lagPeak.Load()
		if int64(lag) <= peak || t.lagPeak.CompareAndSwap(peak, int64(lag)) {
			break
		}
	}
	t.metrics.ReplicationLag.Set(lag.Seconds())
}

// Lag is now minus the commit time of the last event read, as measured when
// it was read (1 s resolution: the binlog's timestamps are in seconds).
func (t *Tailer) Lag() time.Duration { return time.Duration(t.lag.Load()) }

// TakeLagPeak returns the highest lag measured since its last call (the
// last lag when no event was read since), so a watcher that samples once a
// second misses no backlog read in between.
func (t *Tailer) TakeLagPeak() time.Duration {
	if p := t.lagPeak.Swap(0); p > 0 {
		return time.Duration(p)
	}
	return t.Lag()
}

func (t *Tailer) state(up bool, err error) {
	if t.OnState != nil {
		t.OnState(up, err)
	}
}

// New returns a tailer. The tracker learns every batch and transaction
// boundary; the sink acknowledges batches to it.
func New(src config.SourceConfig, rules []*config.Rule, sink event.Sink, tracker *checkpoint.Tracker,
	log *zap.Logger, m *metrics.Metrics, backoff retry.Backoff) *Tailer {
	return &Tailer{cfg: src, rules: rules, sink: sink, tracker: tracker, log: log, metrics: m,
		backoff: backoff, DedupLimit: 65536, XAKeyLimit: 1 << 20}
}

// ErrPositionGone means the server no longer has the binlog the checkpoint
// points into (MySQL error 1236). It is never retried or skipped silently.
var ErrPositionGone = errors.New("binlog position no longer on the server")

// ErrNothingToReplay: a replay --from a time after the binlog's last
// transaction has nothing to do.
var ErrNothingToReplay = errors.New("nothing to replay")

// ErrPositionNotEvent means the server has the checkpoint's file but the
// position is not where an event starts (also MySQL error 1236, told apart
// by the server's text). It is not a gap: source.on_gap does not apply.
var ErrPositionNotEvent = errors.New("checkpoint is not the start of an event in the server's binlog")

// Run streams from start until ctx ends or a permanent error occurs. A zero
// start means "the primary's current position", which is logged and
// committed to the tracker at once so a crash cannot skip past it.
func (t *Tailer) Run(ctx context.Context, start event.Position) error {
	if start.IsZero() {
		pos, err := source.CurrentPosition(ctx, t.cfg)
		if err != nil {
			return err
		}
		t.log.Info("no checkpoint: starting at the primary's current position", zap.Stringer("position", pos))
		start = pos
	} else {
		if err := CheckGTIDDomains(ctx, t.cfg, start); err != nil {
			return err
		}
		t.log.Info("resuming from checkpoint", zap.Stringer("position", start))
	}
	t.tracker.Commit(start)
	if err := t.resolveTimeZone(ctx); err != nil {
		return err
	}

	h := newHandler(t)
	h.boundary = start
	xa, err := loadXA(ctx, t.XAStore)
	if err != nil {
		return err
	}
	h.xa = xa
	defer h.closeSQL()
	attempt := 0
	for {
		began := time.Now()
		err := t.runOnce(ctx, h, h.boundary)
		if ctx.Err() != nil {
			return nil
		}
		if isUnsafe(err) {
			return err
		}
		if perm := classify(err, h.boundary, t.cfg); perm != nil {
			return perm
		}
		err = explainServerIDClash(err, t.cfg)
		if time.Since(began) > time.Minute {
			attempt = 0 // it ran fine for a while: start the backoff over
		}
		wait := t.backoff.Delay(attempt)
		attempt++
		t.metrics.TailerReconnects.Inc()
		t.state(false, err)
		t.log.Warn("binlog stream broke; reconnecting from the last transaction boundary",
			zap.Stringer("position", h.boundary), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if retry.SleepCtx(ctx, wait) != nil {
			return nil
		}
	}
}

// erSlaveSameID is MariaDB's ER_SLAVE_SAME_ID (4052): another replica
// connection registered with this server_id, and the server cut this one
// off. MySQL reports the same as error 1236 with a message of its own.
const erSlaveSameID = 4052

// explainServerIDClash names the cause and the fix of a stream cut off
// because another replica client uses the same server_id; other errors come
// back as they are. It is retried like any broken stream: the other client
// may be a cachesync that was just replaced.
func explainServerIDClash(err error, src config.SourceConfig) error {
	if source.ErrorCode(err) != erSlaveSameID {
		return err
	}
	return fmt.Errorf("another replica client (a second cachesync, or a MySQL replica) uses source.server_id %d on %s, and the server lets only one connection per id stream: "+
		"give every cachesync and every replica of this server its own source.server_id (%w)", src.ServerID, src.Addr, err)
}

// runOnce runs one canal from pos until it fails or ctx ends. Reconnecting
// is ours, not the syncer's: go-mysql's own retry resumes from the last
// event, possibly mid-transaction; we resume from the last boundary.
func (t *Tailer) runOnce(ctx context.Context, h *handler, pos event.Position) error {
	cc, err := t.canalConfig()
	if err != nil {
		return err
	}
	cc.Logger = slog.New(quietOnStop{Handler: cc.Logger.Handler(), stop: ctx})
	c, err := gocanal.NewCanal(cc)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", t.cfg.Addr, err)
	}
	if err := source.SetSessionCharset(c, t.cfg.Charset); err != nil {
		c.Close()
		return fmt.Errorf("go-mysql canal's schema connection: %w", err)
	}
	if err := markAbsentColumns(c, h.doubt.maps.put); err != nil {
		c.Close()
		return fmt.Errorf("%w (%w): this build's go-mysql differs from the one cachesync was tested with", errNoRowImageHook, err)
	}
	h.reset()
	t.seedSchemas(c, pos)
	c.SetEventHandler(h)
	h.ctx = ctx
	h.canal = c

	// An idle server sends no event canal passes on (it skips the fake
	// rotate): a stream that has not failed after its first moments is up.
	upTimer := time.AfterFunc(2*time.Second, h.streaming)
	defer upTimer.Stop()
	done := make(chan error, 1)
	go func() {
		if t.cfg.GTID && pos.GTID != "" {
			set, perr := mysql.ParseGTIDSet(t.cfg.Flavor, pos.GTID)
			if perr != nil {
				done <- fmt.Errorf("checkpoint GTID set %q: %w", pos.GTID, perr)
				return
			}
			done <- c.StartFromGTID(set)
			return
		}
		done <- c.RunFrom(mysql.Position{Name: pos.File, Pos: pos.Pos})
	}()
	select {
	case err = <-done:
		// The stream is dead: say so now, and close in the background.
		// Closing kills the old session over a new connection, which on a
		// frozen server waits out the read timeout; the reconnect need not.
		// Those that end Run (a change it cannot invalidate, a position the
		// server does not have): there is no reconnect to announce.
		if !isUnsafe(err) && classify(err, h.boundary, t.cfg) == nil {
			t.state(false, err)
		}
		go c.Close()
	case <-ctx.Done():
		c.Close()
		err = <-done
	}
	return err
}

// canalConfig is the canal of one connection; it reads source.tls's files,
// so each reconnect picks up renewed certificates.
func (t *Tailer) canalConfig() (*gocanal.Config, error) {
	tlsConf, err := source.TLS(t.cfg)
	if err != nil {
		return nil, err
	}
	cc := gocanal.NewDefaultConfig()
	cc.TLSConfig = tlsConf // the binlog stream and canal's own queries
	cc.Addr = t.cfg.Addr
	cc.User = t.cfg.User
	cc.Password = t.cfg.Password.Reveal()
	cc.Charset = t.cfg.Charset
	cc.Flavor = t.cfg.Flavor
	cc.ServerID = t.cfg.ServerID
	cc.HeartbeatPeriod = t.cfg.HeartbeatPeriod.D()
	cc.ReadTimeout = t.cfg.StreamReadTimeout()
	cc.Dump.ExecutionPath = "" // never mysqldump: we stream, we do not snapshot
	cc.DisableRetrySync = true
	// go-mysql buffers 10240 decoded events by default: with large rows
	// that is hundreds of MiB while the sink is slow. Measured on a
	// 1,000,000-row UPDATE: 512 → 166 MB peak RSS, 128 → 107 MB, at the
	// same speed. Catching up a backlog of 1,000-row events, 128 events
	// held ~12 MiB of decoded rows ahead of the handler; 32 still keeps the
	// reader a full round of statements ahead.
	cc.EventCacheCount = 32
	cc.TimestampStringLocation = time.UTC
	if t.loc != nil {
		cc.TimestampStringLocation = t.loc // as the application's SELECT shows them
	}
	cc.Logger = logging.Slog(t.log.Named("go-mysql"), slog.LevelWarn)
	cc.Dialer = source.StreamDialer(t.cfg, cc.ReadTimeout)
	for _, r := range t.rules {
		cc.IncludeTableRegex = append(cc.IncludeTableRegex, r.TableRegex())
	}
	cc.IncludeTableRegex = append(cc.IncludeTableRegex, offsetsTableRegexes(t.rules)...)
	return cc, nil
}

// seedSchemas gives canal the schema each mapped table had at pos, instead
// of letting it read today's from the server; canal replaces a seed itself
// when the binlog reaches a DDL of that table.
func (t *Tailer) seedSchemas(c *gocanal.Canal, pos event.Position) { seedFrom(c, t.History, pos) }

func seedFrom(c *gocanal.Canal, h *SchemaHistory, pos event.Position) {
	if h == nil {
		return
	}
	for _, name := range h.Tables() {
		if s := h.At(name, pos); s != nil {
			c.SetTableCache([]byte(s.Schema), []byte(s.Name), s)
		}
	}
}

// resolveTimeZone finds, once, the zone the tailer renders TIMESTAMP in.
func (t *Tailer) resolveTimeZone(ctx context.Context) error {
	if t.loc != nil {
		return nil
	}
	loc, note, err := source.TimeZone(ctx, t.cfg)
	if err != nil {
		return err
	}
	if note != "" {
		t.log.Warn(note)
	}
	t.loc = loc
	return nil
}
