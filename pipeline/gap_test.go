package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// source.on_gap, given a tailer whose checkpoint's binlog is gone (the
// README: "With on_gap: fail (default) run exits non-zero saying so; with
// backfill it rescans the mapped tables and streams on"). Only the
// server's "position gone" counts: the cover is never asked for another
// error.
func TestOnGap(t *testing.T) {
	if def := config.Default().Source.OnGap; def != "fail" {
		t.Fatalf("the default on_gap is %q; the README says fail", def)
	}
	gone := fmt.Errorf("%w: bin.000001 purged", canal.ErrPositionGone)
	covered := event.Position{File: "bin.000007", Pos: 100}
	for _, tc := range []struct {
		onGap      string
		readErr    error
		wantCover  bool
		wantErr    error
		wantReadAt []event.Position
	}{
		{onGap: "fail", readErr: gone, wantErr: canal.ErrPositionGone, wantReadAt: []event.Position{pos(0)}},
		{onGap: "backfill", readErr: gone, wantCover: true, wantReadAt: []event.Position{pos(0), covered}},
		{onGap: "backfill", readErr: errNotAGap, wantErr: errNotAGap, wantReadAt: []event.Position{pos(0)}},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.onGap, tc.readErr), func(t *testing.T) {
			j := &journal{}
			tracker := checkpoint.NewTracker(event.Position{})
			store := &recordingStore{j: j}
			out := newHoldingOutput(j, tracker, true)
			r := &binlogReader{j: j, tracker: tracker, out: out, txs: 1, reading: make(chan struct{})}
			var readAt []event.Position
			read := func(ctx context.Context, from event.Position) error {
				readAt = append(readAt, from)
				if len(readAt) == 1 {
					return tc.readErr // the server refuses the position at once
				}
				return r.read(ctx, from)
			}
			s := newStreamer(t, j, tracker, store, out, read)
			cover := func(_ context.Context, err error) (event.Position, error) {
				j.add("cover")
				if !errors.Is(err, canal.ErrPositionGone) {
					t.Errorf("cover got %v, want the gap", err)
				}
				if got := store.last(); !got.IsZero() {
					t.Errorf("the checkpoint moved to %v before the gap was covered", got)
				}
				return covered, nil
			}
			gaps := prometheus.NewCounter(prometheus.CounterOpts{Name: "gaps"})
			s.gap = gapPolicy(tc.onGap, gaps, cover)

			soft, stop := context.WithCancel(context.Background())
			defer stop()
			done := make(chan error, 1)
			go func() { done <- s.run(soft, context.Background(), pos(0)) }()
			if tc.wantErr == nil {
				select {
				case <-r.reading:
				case err := <-done:
					t.Fatalf("stopped instead of streaming on: %v", err)
				}
				stop()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("did not stop; journal: %q", j.all())
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if covers := j.index("cover") >= 0; covers != tc.wantCover {
				t.Errorf("covered the gap: %v, want %v", covers, tc.wantCover)
			}
			if n := testutil.ToFloat64(gaps); (n == 1) != tc.wantCover || n > 1 {
				t.Errorf("cachesync_binlog_gaps_total %v, want 1 for each gap covered (%v)", n, tc.wantCover)
			}
			if fmt.Sprint(readAt) != fmt.Sprint(tc.wantReadAt) {
				t.Errorf("read from %v, want %v", readAt, tc.wantReadAt)
			}
			if tc.wantErr != nil && !store.last().IsZero() {
				t.Errorf("checkpoint saved at %v after a failure to read", store.last())
			}
			if tc.wantCover && store.last() != (event.Position{File: covered.File, Pos: covered.Pos + 1}) {
				t.Errorf("checkpoint %v, want the transaction streamed after the covered position", store.last())
			}
		})
	}
}

var errNotAGap = errors.New("access denied")
