package metrics

import "github.com/prometheus/client_golang/prometheus"

// Observer holds the collectors of the consistency observer (README, "How
// consistent is the cache: the observer").
type Observer struct {
	Checks  *prometheus.CounterVec // rule, window, result
	Nines   *prometheus.GaugeVec   // window, last
	Dropped prometheus.Counter     // samples dropped because the queue was full
	Sampled prometheus.Counter     // row changes taken for checking
}

// NewObserver creates the observer's collectors and registers them with reg
// (may be nil). It is separate from New: `cachesync observe` exports only these.
func NewObserver(reg prometheus.Registerer) *Observer {
	o := &Observer{
		Checks: counterVec("cachesync_consistency_checks_total",
			"Cache keys of sampled row changes read at a window after the commit, by result: consistent (absent, or at least the committed version), suspect (older, before the last window), inconsistent (older at the last window and the row unchanged in the database), superseded (older at the last window but the row changed again), unreadable (no version in the value) or error.",
			"rule", "window", "result"),
		Nines: gaugeVec("cachesync_consistency_nines",
			"-log10 of the share of key checks at this window that found the cache stale, over the last hour; with none stale, log10 of the checks (the most the sample can show); NaN without checks. last=\"true\" marks the last window, where stale values are confirmed against the database.",
			"window", "last"),
		Dropped: counter("cachesync_consistency_samples_dropped_total",
			"Sampled row changes dropped because observe.queue was full."),
		Sampled: counter("cachesync_consistency_samples_total",
			"Row changes taken for checking (observe.sample of the observed rules' changes)."),
	}
	if reg != nil {
		reg.MustRegister(o.Checks, o.Nines, o.Dropped, o.Sampled)
	}
	return o
}
