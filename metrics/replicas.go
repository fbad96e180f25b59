package metrics

import "github.com/prometheus/client_golang/prometheus"

// Replicas holds the collectors of delete.second: replicas (see README,
// "Read replicas"): how far each read replica is behind, and what waiting
// for it costs the second delete.
type Replicas struct {
	LagSeconds      *prometheus.GaugeVec   // replica
	LagTransactions *prometheus.GaugeVec   // replica
	Up              *prometheus.GaugeVec   // replica
	SecondWait      prometheus.Histogram   // first delete → second delete
	AtBound         *prometheus.CounterVec // replica: second deletes sent at replica_max_wait without it
}

func (m *Metrics) newReplicas() {
	m.Replicas = Replicas{
		LagSeconds: gaugeVec("cachesync_replica_lag_seconds",
			"How long ago the oldest transaction the replica has not applied was committed on the primary (0 when it has applied every one cachesync handed to the deleter), as last polled.", "replica"),
		LagTransactions: gaugeVec("cachesync_replica_lag_transactions",
			"Transactions (without GTIDs: rows events) handed to the deleter that the replica has not applied yet, as last polled.", "replica"),
		Up: gaugeVec("cachesync_replica_up",
			"1 while the last poll of the replica's applied position answered; 0: its second deletes wait for delete.replica_max_wait.", "replica"),
		SecondWait: histogram("cachesync_second_delete_wait_seconds",
			"With delete.second: replicas, the time from a transaction's first delete to its second (the wait for the replicas to apply it).",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60}),
		AtBound: counterVec("cachesync_replica_wait_bound_total",
			"Second deletes sent at delete.replica_max_wait before the named replica had applied their transaction (it is down, stopped or that far behind).", "replica"),
	}
}

func (r *Replicas) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.LagSeconds, r.LagTransactions, r.Up, r.SecondWait, r.AtBound}
}
