package torture

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/observe"
)

// ObserverStats is what the consistency observer (package observe), run
// in-process beside a mode, counted; the harness's own ground truth is the
// mode's Stale. Every sampled change of a row is checked at each window;
// the one that left a key stale at the end is its row's last change, so
// Inconsistent should be about Sample × Stale (plus any key that stayed
// stale past the last window before its row changed again).
type ObserverStats struct {
	Sample       float64  `json:"sample"`
	Windows      []string `json:"windows"`
	Sampled      int64    `json:"sampled"` // changes checked (at the first window)
	Dropped      int64    `json:"dropped"`
	Pending      int64    `json:"pending"` // changes not past their last window when the mode ended (0 unless the drain timed out)
	Suspect      []int64  `json:"suspect"` // per window: keys older than their change's version
	Inconsistent int64    `json:"inconsistent"`
	Superseded   int64    `json:"superseded"`
	Unreadable   int64    `json:"unreadable"`
	Expected     float64  `json:"expected_inconsistent"` // Sample × the harness's Stale
}

// observerRun is the observer of one mode.
type observerRun struct {
	s        *observe.Standalone
	stop     context.CancelFunc
	done     chan error
	finished bool
}

// abandon stops an observer whose mode ended before finish.
func (r *observerRun) abandon() {
	if !r.finished {
		r.stop()
		<-r.done
	}
}

func (o *Options) observerConfig() string {
	ws := make([]string, len(o.ObserveWindows))
	for i, w := range o.ObserveWindows {
		ws[i] = w.String()
	}
	return fmt.Sprintf(`source:
  addr: %q
  user: %q
  password: %q
  flavor: %s
  server_id: %d
observe: {sample: %g, windows: [%s], queue: 1000000, rate: 1000000}
rules:
  - table: %s.%s
    name: items
    keys: ["item:{id}"]
    observe: {column: version, field: "$.version"}
`, o.MySQLAddr, o.MySQLUser, o.MySQLPassword, o.Flavor, o.ObserveServerID, o.ObserveSample, strings.Join(ws, ", "), o.Database, table)
}

// startObserver starts the observer on its own binlog reader and returns
// once it streams.
func (o *Options) startObserver(ctx context.Context, rdb redis.UniversalClient) (*observerRun, error) {
	cfg, err := config.Parse([]byte(o.observerConfig()), "torture observer config", nil)
	if err != nil {
		return nil, err
	}
	s, err := observe.NewStandalone(cfg, cfg.Source, rdb, o.log().Named("observe"), metrics.NewObserver(nil))
	if err != nil {
		return nil, err
	}
	octx, stop := context.WithCancel(ctx)
	r := &observerRun{s: s, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- s.Run(octx) }()
	select {
	case <-s.Up():
		return r, nil
	case err := <-r.done:
		stop()
		return nil, fmt.Errorf("observer: %w", err)
	case <-time.After(30 * time.Second):
		stop()
		<-r.done
		return nil, fmt.Errorf("observer: the binlog stream did not start in 30s")
	}
}

// finish waits (bounded by the last window and a margin) for every sampled
// change to pass its last window, stops the observer and fills res.Observer.
func (r *observerRun) finish(ctx context.Context, o *Options, res *ModeResult) error {
	last := o.ObserveWindows[len(o.ObserveWindows)-1]
	deadline := time.Now().Add(last + 30*time.Second)
	for r.s.Pending() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	err := <-r.done
	r.finished = true
	s := r.s
	ws := s.Windows()
	st := &ObserverStats{Sample: o.ObserveSample, Windows: ws, Dropped: s.Dropped(), Pending: s.Pending(),
		Expected: o.ObserveSample * float64(res.Stale)}
	for i, w := range ws {
		n := s.Count("", w, observe.Suspect)
		if i == len(ws)-1 {
			n = s.Count("", w, observe.Inconsistent)
		}
		st.Suspect = append(st.Suspect, n)
	}
	first := ws[0]
	for _, result := range []string{observe.Consistent, observe.Suspect, observe.Inconsistent, observe.Superseded, observe.Unreadable, observe.Failed} {
		st.Sampled += s.Count("", first, result)
	}
	lastW := ws[len(ws)-1]
	st.Inconsistent = s.Count("", lastW, observe.Inconsistent)
	st.Superseded = s.Count("", lastW, observe.Superseded)
	for _, w := range ws {
		st.Unreadable += s.Count("", w, observe.Unreadable)
	}
	res.Observer = st
	if err != nil {
		return fmt.Errorf("observer: %w", err)
	}
	return nil
}
