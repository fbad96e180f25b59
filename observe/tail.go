package observe

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
)

// Standalone is an observer with a binlog reader of its own: it deletes
// nothing and saves no checkpoint, so it runs beside any invalidator
// (cachesync or not). src must carry a server_id no other replica of the
// source uses.
type Standalone struct {
	*Observer
	tailer  *canal.Tailer
	confirm *MySQL
	up      chan struct{}
	upOnce  sync.Once
}

// Up is closed once the binlog reader is streaming: changes committed after
// it are seen.
func (s *Standalone) Up() <-chan struct{} { return s.up }

// ackSink takes the tailer's batches of keys and drops them: the observer
// hears rows through canal.RowObserver, and deletes nothing.
type ackSink struct{ t *checkpoint.Tracker }

func (s ackSink) Send(_ context.Context, b *event.Batch) error {
	s.t.Done(b.Seq)
	return nil
}

// NewStandalone builds the observer of cfg's observed rules, reading the
// cache through rdb and the binlog and rows from src.
func NewStandalone(cfg *config.Config, src config.SourceConfig, rdb redis.UniversalClient, log *zap.Logger, mo *metrics.Observer) (*Standalone, error) {
	var rules []*config.Rule
	for i := range cfg.Rules {
		rules = append(rules, &cfg.Rules[i])
	}
	if len(cfg.ObservedRules()) == 0 {
		return nil, errors.New("no rule has observe: add observe: {column: version, field: \"$.version\"} (or hash_field, or stamp: cacheaside) to the rules to measure")
	}
	confirm := &MySQL{Src: src}
	o, err := New(Config{Sample: cfg.Observe.Sample, Windows: cfg.Observe.WindowDurations(), Queue: cfg.Observe.Queue, Rate: cfg.Observe.Rate},
		Deps{Redis: rdb, Confirm: confirm, Log: log, Metrics: mo})
	if err != nil {
		return nil, err
	}
	feed, err := NewFeed(o, rules)
	if err != nil {
		return nil, err
	}
	tracker := checkpoint.NewTracker(event.Position{})
	t := canal.New(src, rules, ackSink{tracker}, tracker, log.Named("tailer"), metrics.New(nil), cfg.Retry.Backoff())
	t.Rows = feed
	s := &Standalone{Observer: o, tailer: t, confirm: confirm, up: make(chan struct{})}
	t.OnState = func(up bool, err error) {
		if up {
			s.upOnce.Do(func() { close(s.up) })
		} else {
			log.Warn("binlog stream broke, reconnecting", zap.Error(err))
		}
	}
	return s, nil
}

// Run reads the binlog from the primary's current position and checks
// until ctx ends (nil) or the binlog cannot be read (the error).
func (s *Standalone) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Observer.Run(ctx) //nolint:errcheck // returns nil when ctx ends
	}()
	err := s.tailer.Run(ctx, event.Position{})
	cancel()
	<-done
	s.confirm.Close()
	if parent.Err() != nil {
		return nil // asked to stop
	}
	return err
}
