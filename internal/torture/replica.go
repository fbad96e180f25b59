package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// ModeReplicaAware is cachesync with delete.second: replicas (the second
// delete waits until the replica has applied the transaction) and the
// lease-fenced fills of mode lease; it needs a replica (Options.ReplicaAddr).
const ModeReplicaAware = "replica-aware"

// ReplicaStats is what a mode with replica readers saw of the replica.
type ReplicaStats struct {
	Stops        int    `json:"stops"`          // times the injector stopped the replica's SQL thread
	StoppedTotal Millis `json:"stopped_ms"`     // time it was stopped, summed
	StoppedMax   Millis `json:"stopped_max_ms"` // the longest stop
	// The second delete's wait for the replica (first → second delete),
	// from cachesync's histogram (interpolated within its buckets), and the
	// second deletes sent at replica_max_wait; mode replica-aware only.
	WaitCount uint64  `json:"second_delete_waits,omitempty"`
	WaitP50   Millis  `json:"second_delete_wait_p50_ms,omitempty"`
	WaitP99   Millis  `json:"second_delete_wait_p99_ms,omitempty"`
	AtBound   float64 `json:"second_deletes_at_bound,omitempty"`
}

// dialReplica opens a connection to the replica.
func (o *Options) dialReplica(ctx context.Context, db string) (*client.Conn, error) {
	r := *o
	r.MySQLAddr = o.ReplicaAddr
	return r.dial(ctx, db)
}

// waitReplica waits, at most a minute, until the replica has applied all
// the primary has committed (MariaDB MASTER_GTID_WAIT).
func (o *Options) waitReplica(ctx context.Context) error {
	p, err := o.dial(ctx, "")
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.Execute("SELECT @@gtid_binlog_pos")
	if err != nil {
		return fmt.Errorf("primary: gtid_binlog_pos: %w", err)
	}
	pos, _ := res.GetString(0, 0)
	r, err := o.dialReplica(ctx, "")
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.Execute("START SLAVE SQL_THREAD"); err != nil {
		return fmt.Errorf("replica: START SLAVE SQL_THREAD: %w", err)
	}
	res, err = r.Execute(fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', 60)", pos))
	if err != nil {
		return fmt.Errorf("replica: MASTER_GTID_WAIT: %w", err)
	}
	if n, _ := res.GetInt(0, 0); n != 0 {
		return fmt.Errorf("replica %s did not apply the primary's %s within a minute", o.ReplicaAddr, pos)
	}
	return nil
}

// injectLag stops and starts the replica's SQL thread until stop closes:
// each stop lasts a uniform draw in [0, ReplicaLag), each run half that,
// so the replica is behind by up to ReplicaLag, at random moments. The
// SQL thread runs again when it returns.
func (o *Options) injectLag(ctx context.Context, stop <-chan struct{}, st *ReplicaStats) error {
	c, err := o.dialReplica(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(o.Seed, 1<<40))
	draw := func(d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(d) + 1)) }
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-stop:
		case <-ctx.Done():
		}
		return false
	}
	defer c.Execute("START SLAVE SQL_THREAD") //nolint:errcheck // best effort; waitReplica starts it again and checks
	for {
		if !sleep(draw(o.ReplicaLag / 2)) {
			return nil
		}
		if _, err := c.Execute("STOP SLAVE SQL_THREAD"); err != nil {
			return fmt.Errorf("replica: STOP SLAVE SQL_THREAD: %w", err)
		}
		began, d := time.Now(), draw(o.ReplicaLag)
		done := sleep(d)
		if _, err := c.Execute("START SLAVE SQL_THREAD"); err != nil {
			return fmt.Errorf("replica: START SLAVE SQL_THREAD: %w", err)
		}
		stopped := time.Since(began)
		st.Stops++
		st.StoppedTotal += Millis(stopped)
		st.StoppedMax = max(st.StoppedMax, Millis(stopped))
		if !done {
			return nil
		}
	}
}

// sidecarWaits fills st from cachesync's metrics.
func sidecarWaits(reg *prometheus.Registry, st *ReplicaStats) {
	mfs, err := reg.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "cachesync_second_delete_wait_seconds":
			h := mf.GetMetric()[0].GetHistogram()
			st.WaitCount = h.GetSampleCount()
			st.WaitP50, st.WaitP99 = quantile(h, 0.5), quantile(h, 0.99)
		case "cachesync_replica_wait_bound_total":
			for _, m := range mf.GetMetric() {
				st.AtBound += m.GetCounter().GetValue()
			}
		}
	}
}

// quantile interpolates q within the histogram's buckets, as PromQL's
// histogram_quantile does.
func quantile(h *dto.Histogram, q float64) Millis {
	n := float64(h.GetSampleCount())
	if n == 0 {
		return 0
	}
	bs := h.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	rank, lo, below := q*n, 0.0, 0.0
	for _, b := range bs {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			f := (rank - below) / max(c-below, 1)
			return Millis((lo + f*(b.GetUpperBound()-lo)) * float64(time.Second))
		}
		lo, below = b.GetUpperBound(), c
	}
	return Millis(lo * float64(time.Second))
}
