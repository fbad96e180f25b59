package torture

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestReplicaOptionsChecked(t *testing.T) {
	o := Options{Modes: []string{ModeReplicaAware}, Writers: 1, Readers: 1, Rows: 1, Duration: time.Second, SecondDelay: time.Second}
	o.Pause, _ = ParseDist(DefaultPause, time.Second)
	if err := o.Check(); err == nil || !strings.Contains(err.Error(), "needs a replica") {
		t.Fatalf("replica-aware without a replica: %v", err)
	}
	o.ReplicaAddr = "127.0.0.1:3307"
	if err := o.Check(); err == nil || !strings.Contains(err.Error(), "replica lag") {
		t.Fatalf("a replica without lag: %v", err)
	}
	o.ReplicaLag = time.Second
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
}

// quantile interpolates within a bucket, as histogram_quantile does.
func TestQuantile(t *testing.T) {
	b := func(le float64, n uint64) *dto.Bucket { return &dto.Bucket{UpperBound: &le, CumulativeCount: &n} }
	n := uint64(100)
	h := &dto.Histogram{SampleCount: &n, Bucket: []*dto.Bucket{b(0.1, 50), b(1, 90), b(2, 100)}}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.25, 50 * time.Millisecond}, {0.5, 100 * time.Millisecond}, {0.7, 550 * time.Millisecond}, {0.99, 1900 * time.Millisecond}} {
		if got := time.Duration(quantile(h, c.q)); (got - c.want).Abs() > time.Microsecond {
			t.Errorf("quantile %v = %s, want %s", c.q, got, c.want)
		}
	}
}
