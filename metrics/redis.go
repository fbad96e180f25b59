package metrics

import "github.com/prometheus/client_golang/prometheus"

// RedisFaults are the metrics of a Redis that restarted (redis.on_restart).
type RedisFaults struct {
	Restarts *prometheus.CounterVec // addr: run_id changed since the last look
	Replays  *prometheus.CounterVec // result (done|failed): on_restart replay runs
}

func newRedisFaults() RedisFaults {
	return RedisFaults{
		Restarts: counterVec("cachesync_redis_restarts_total",
			"Times a Redis server's run_id changed (it restarted), by address: a server that loaded an old RDB or AOF may serve values older than invalidations already sent; see redis.on_restart.", "addr"),
		Replays: counterVec("cachesync_redis_restart_replays_total",
			"redis.on_restart: replay runs, by result (done, failed): the binlog of the last restart_lookback replayed after a restart.", "result"),
	}
}

func (f RedisFaults) collectors() []prometheus.Collector {
	return []prometheus.Collector{f.Restarts, f.Replays}
}
