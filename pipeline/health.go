package pipeline

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Health is what /readyz reports: every part of the process says whether it
// works, and the process is ready only when all of them do. A change of
// state is one log line; the gauge cachesync_ready follows it.
type Health struct {
	log   *zap.Logger
	gauge prometheus.Gauge

	mu       sync.Mutex
	problems map[string]string     // part → why it is not ready; absent: fine
	degraded map[string]string     // part → why it works less well, still ready
	work     map[string]func() int // what → how much of it is unfinished
}

// NewHealth returns the readiness of a process with no part registered yet
// (ready); its gauge cachesync_ready is registered with reg when not nil.
func NewHealth(log *zap.Logger, reg prometheus.Registerer) *Health {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cachesync_ready",
		Help: "1 when every part is connected and making progress (what /readyz reports), else 0."})
	if reg != nil {
		reg.MustRegister(g)
	}
	return &Health{log: log, gauge: g, problems: map[string]string{}, degraded: map[string]string{}, work: map[string]func() int{}}
}

// pending registers a count of unfinished work (what: its unit, such as
// "kafka messages not acknowledged"), for the line that says what a stop
// that overran shutdown.timeout was waiting for. The returned func removes it.
func (h *Health) pending(what string, n func() int) func() {
	h.mu.Lock()
	h.work[what] = n
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.work, what)
		h.mu.Unlock()
	}
}

// Unfinished names the work not done and the parts not ready, sorted. The
// counters are called without h.mu held: they take their owners' locks,
// and the shutdown watchdog that asks must not wait on those with h.mu.
func (h *Health) Unfinished() string {
	h.mu.Lock()
	work := maps.Clone(h.work)
	var lines []string
	for part, why := range h.problems {
		lines = append(lines, part+": "+why)
	}
	h.mu.Unlock()
	for what, n := range work {
		if c := n(); c > 0 {
			lines = append(lines, fmt.Sprintf("%d %s", c, what))
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "nothing reported"
	}
	return strings.Join(lines, "; ")
}

// starting registers a part that is not ready until it says ok.
func (h *Health) starting(part string) { h.bad(part, "starting") }

func (h *Health) ok(part string) {
	h.mu.Lock()
	why, was := h.problems[part]
	delete(h.problems, part)
	ready := len(h.problems) == 0
	h.mu.Unlock()
	if was {
		h.log.Info("ready: "+part, zap.String("was", why))
		h.set(ready)
	}
}

// bad marks part not ready. Only the change of state is logged: a reason
// that changes while the part stays not ready (it may hold an elapsed time,
// a temp file's name) is what /readyz shows, not a new line.
func (h *Health) bad(part, why string) {
	h.mu.Lock()
	old, was := h.problems[part]
	h.problems[part] = why
	h.mu.Unlock()
	if was && old != "starting" {
		return
	}
	if why != "starting" {
		h.log.Warn("not ready: "+part, zap.String("why", why))
	}
	h.set(false)
}

// degrade marks part as working less well without making the process not
// ready (a read replica down: second deletes wait replica_max_wait for it);
// why "" clears it. Only changes are logged, by the part itself.
func (h *Health) degrade(part, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if why == "" {
		delete(h.degraded, part)
		return
	}
	h.degraded[part] = why
}

// drop forgets parts that stopped running, without a line: a part that
// ends is not thereby ready (a fatal error may be on its way out).
func (h *Health) drop(parts ...string) {
	h.mu.Lock()
	for _, p := range parts {
		delete(h.problems, p)
	}
	ready := len(h.problems) == 0
	h.mu.Unlock()
	h.set(ready)
}

func (h *Health) set(ready bool) {
	if ready {
		h.gauge.Set(1)
	} else {
		h.gauge.Set(0)
	}
}

// Status is ready, or each part's problem, one per line, sorted. A ready
// process with degraded parts says "ready (degraded)" and lists them.
func (h *Health) Status() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) == 0 {
		if len(h.degraded) == 0 {
			return true, "ready\n"
		}
		lines := make([]string, 0, len(h.degraded))
		for part, why := range h.degraded {
			lines = append(lines, part+": "+why)
		}
		sort.Strings(lines)
		return true, "ready (degraded)\n" + strings.Join(lines, "\n") + "\n"
	}
	lines := make([]string, 0, len(h.problems))
	for part, why := range h.problems {
		lines = append(lines, part+": "+why)
	}
	sort.Strings(lines)
	return false, strings.Join(lines, "\n") + "\n"
}

// ServeHTTP answers /readyz: 200 and "ready", or 503 and what is not.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	ok, text := h.Status()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, text)
}
