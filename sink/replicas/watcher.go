package replicas

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// Options shape a Watcher.
type Options struct {
	Replicas []config.ReplicaConfig
	// Source gives the flavor, charset and timeouts of the connections.
	Source config.SourceConfig
	// GTID polls executed GTID sets; false polls SHOW SLAVE STATUS.
	GTID bool
	// Tick is the time between two polls of one replica; default 5ms.
	Tick time.Duration
	// Dial opens a connection to a replica (source.Connect).
	Dial func(ctx context.Context, src config.SourceConfig) (*client.Conn, error)
	// OnState is told when a replica stops or starts answering (for
	// readiness); may be nil.
	OnState func(replica string, up bool, why string)
}

func (o Options) tick() time.Duration {
	if o.Tick > 0 {
		return o.Tick
	}
	return 5 * time.Millisecond
}

// maxNoted bounds the transactions kept for the lag metrics; past it the
// oldest are forgotten and the lag of a replica that far behind reads low.
const maxNoted = 1 << 16

// Watcher polls every replica's applied position and answers, for a
// batch, which replicas have not applied its transaction yet.
type Watcher struct {
	o   Options
	log *zap.Logger
	m   *metrics.Replicas
	now func() time.Time

	mu      sync.Mutex
	states  []state
	changed chan struct{} // closed and replaced after every poll
	noted   []noted       // transactions handed to the deleter, oldest first
}

// state is what the last answer of one replica said.
type state struct {
	name   string
	up     bool
	polled bool // some poll has answered
	exec   Executed
	pos    event.Position
	why    string
}

type noted struct {
	gtid  string
	gtids []event.TrxGTID
	pos   event.Position
	at    time.Time
}

// New returns a Watcher; Run polls.
func New(o Options, log *zap.Logger, m *metrics.Replicas) *Watcher {
	w := &Watcher{o: o, log: log, m: m, now: time.Now, changed: make(chan struct{})}
	for _, r := range o.Replicas {
		w.states = append(w.states, state{name: r.Label()})
		m.Up.WithLabelValues(r.Label()).Set(0)
	}
	return w
}

// Run polls every replica until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range w.o.Replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.poller(ctx, i)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// Changed returns a channel closed at the next poll's answer (or failure).
func (w *Watcher) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// Pending names the replicas that have not applied b's transaction (nil
// when all have). A replica that does not answer counts with what it last
// said: an applied position never goes back.
func (w *Watcher) Pending(b *event.Batch) []string {
	n := w.target(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for i := range w.states {
		if !w.applied(&w.states[i], &n) {
			out = append(out, w.states[i].name)
		}
	}
	return out
}

// Down names the replicas whose last poll failed, with why.
func (w *Watcher) Down() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for _, s := range w.states {
		if !s.up {
			out[s.name] = s.why
		}
	}
	return out
}

func (w *Watcher) target(b *event.Batch) noted {
	n := noted{gtid: b.GTID, pos: b.Pos, at: w.now()}
	if w.o.GTID && b.GTID != "" {
		gs, err := event.ParseTrxGTIDs(b.GTID)
		if err != nil {
			w.log.Warn("batch GTID unreadable; its second delete waits for replica_max_wait", zap.String("gtid", b.GTID), zap.Error(err))
		}
		n.gtids = gs
	}
	return n
}

func (w *Watcher) applied(s *state, n *noted) bool {
	if !s.polled {
		return false
	}
	if w.o.GTID {
		return len(n.gtids) > 0 && s.exec.ContainsAll(n.gtids)
	}
	return PositionApplied(s.pos, n.pos)
}

// Note records a transaction handed to the deleter, for the lag metrics.
func (w *Watcher) Note(b *event.Batch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if k := len(w.noted); k > 0 && w.o.GTID && w.noted[k-1].gtid == b.GTID {
		return // another batch of the same transaction
	}
	n := w.target(b)
	if len(w.noted) >= maxNoted {
		w.noted = w.noted[1:]
	}
	w.noted = append(w.noted, n)
}

func (w *Watcher) poller(ctx context.Context, i int) {
	r := w.o.Replicas[i]
	src := r.Source(w.o.Source)
	var conn *client.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	tick := time.NewTicker(w.o.tick())
	defer tick.Stop()
	retryWait := time.Duration(0)
	for ctx.Err() == nil {
		var err error
		if conn == nil {
			conn, err = w.o.Dial(ctx, src)
		}
		if err == nil {
			err = w.pollOnce(conn, i)
			if err != nil {
				conn.Close()
				conn = nil
			}
		}
		if err != nil {
			w.fail(i, err)
			retryWait = min(max(2*retryWait, 50*time.Millisecond), time.Second)
			if retry.SleepCtx(ctx, retryWait) != nil {
				return
			}
			continue
		}
		retryWait = 0
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// pollOnce asks the replica how far it has applied: one query for every
// transaction waiting.
func (w *Watcher) pollOnce(conn *client.Conn, i int) error {
	exec, pos, err := appliedOn(conn, w.o.GTID, w.o.Source.Flavor)
	if err != nil {
		return err
	}
	w.update(i, exec, pos)
	return nil
}

// appliedOn reads how far the replica on conn has applied: its executed
// GTID set (MariaDB @@gtid_slave_pos, MySQL @@gtid_executed), or without
// GTIDs the primary position of SHOW SLAVE STATUS.
func appliedOn(conn *client.Conn, gtid bool, flavor string) (Executed, event.Position, error) {
	if !gtid {
		pos, err := slaveStatus(conn)
		return nil, pos, err
	}
	q := "SELECT @@GLOBAL.gtid_executed"
	if flavor == "mariadb" {
		q = "SELECT @@GLOBAL.gtid_slave_pos"
	}
	res, err := conn.Execute(q)
	if err != nil {
		return nil, event.Position{}, fmt.Errorf("%s: %w", q, err)
	}
	s, err := res.GetString(0, 0)
	if err != nil {
		return nil, event.Position{}, fmt.Errorf("%s: %w", q, err)
	}
	exec, err := ParseExecuted(s)
	return exec, event.Position{}, err
}

// Check connects to every replica once and reads how far it has applied,
// as the watcher will: for config check --online, so a wrong address,
// credential or privilege, or a server that is no replica, is one clear
// message before run instead of a replica run finds down.
func Check(ctx context.Context, o Options) []error {
	var errs []error
	for i, r := range o.Replicas {
		name := fmt.Sprintf("replicas[%d] (%s)", i, r.Label())
		conn, err := o.Dial(ctx, r.Source(o.Source))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		exec, pos, err := appliedOn(conn, o.GTID, o.Source.Flavor)
		conn.Close()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: cannot read how far it has applied the primary's binlog: %w", name, err))
		case o.GTID && len(exec) == 0:
			errs = append(errs, fmt.Errorf("%s: its applied GTID set is empty: is it replicating from source.addr with GTIDs (MariaDB: CHANGE MASTER TO … MASTER_USE_GTID=slave_pos)?", name))
		case !o.GTID && pos.File == "":
			errs = append(errs, fmt.Errorf("%s: SHOW SLAVE STATUS names no primary position: is it a replica of source.addr?", name))
		}
	}
	return errs
}

func (w *Watcher) update(i int, exec Executed, pos event.Position) {
	w.mu.Lock()
	s := &w.states[i]
	wasUp := s.up || !s.polled
	s.up, s.polled, s.exec, s.pos, s.why = true, true, exec, pos, ""
	w.lagLocked()
	w.broadcastLocked()
	w.mu.Unlock()
	w.m.Up.WithLabelValues(s.name).Set(1)
	if !wasUp {
		w.log.Info("replica answers again; second deletes wait for it again", zap.String("replica", s.name))
		if w.o.OnState != nil {
			w.o.OnState(s.name, true, "")
		}
	}
}

func (w *Watcher) fail(i int, err error) {
	w.mu.Lock()
	s := &w.states[i]
	wasUp := s.up || !s.polled
	s.up, s.why = false, err.Error()
	name := s.name
	w.broadcastLocked()
	w.mu.Unlock()
	w.m.Up.WithLabelValues(name).Set(0)
	if wasUp {
		w.log.Warn("replica does not answer: second deletes of transactions it has not been seen to apply wait delete.replica_max_wait, then go without it",
			zap.String("replica", name), zap.Error(err))
		if w.o.OnState != nil {
			w.o.OnState(name, false, err.Error())
		}
	}
}

func (w *Watcher) broadcastLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// lagLocked sets each replica's lag from the transactions noted and
// forgets those every replica has applied.
func (w *Watcher) lagLocked() {
	now := w.now()
	done := len(w.noted)
	for i := range w.states {
		s := &w.states[i]
		k := sort.Search(len(w.noted), func(j int) bool { return !w.applied(s, &w.noted[j]) })
		done = min(done, k)
		w.m.LagTransactions.WithLabelValues(s.name).Set(float64(len(w.noted) - k))
		lag := 0.0
		if k < len(w.noted) {
			lag = now.Sub(w.noted[k].at).Seconds()
		}
		w.m.LagSeconds.WithLabelValues(s.name).Set(lag)
	}
	w.noted = w.noted[done:]
}
