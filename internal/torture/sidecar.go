package torture

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
)

// sidecar is cachesync running in this process through pipeline.Run: the
// direct transport, one rule (items → item:{id}), a file checkpoint.
type sidecar struct {
	dir      string // the checkpoint's, removed after the mode
	store    *checkpoint.FileStore
	done     chan error
	stopSoft context.CancelFunc
	stopHard context.CancelFunc
	reg      *prometheus.Registry // its metrics
}

// sidecarConfig is the YAML of the in-process cachesync; secondDelay 0
// turns the second delete off.
func (o *Options) sidecarConfig(dir string, secondDelay time.Duration, replicas bool) string {
	del := "delete: {second_delay: " + strconv.FormatInt(secondDelay.Milliseconds(), 10) + "ms}\n"
	if replicas {
		del = fmt.Sprintf("delete: {second: replicas}\nreplicas:\n  - {name: replica, addr: %q, user: %q, password: %q}\n",
			o.ReplicaAddr, o.MySQLUser, o.MySQLPassword)
	}
	return fmt.Sprintf(`source:
  addr: %q
  user: %q
  password: %q
  flavor: %s
  server_id: %d
checkpoint: {store: file, path: %q, min_interval: 10ms}
redis: {addrs: [%q]}
%shttp: {addr: "off"}
rules:
  - table: %s.%s
    keys: ["item:{id}"]
`, o.MySQLAddr, o.MySQLUser, o.MySQLPassword, o.Flavor, o.ServerID, filepath.Join(dir, "cachesync.pos"),
		o.RedisAddr, del, o.Database, table)
}

// startSidecar starts cachesync streaming from start (saved as its
// checkpoint first, so no write made after start is missed however long
// it takes to connect).
func (o *Options) startSidecar(ctx context.Context, dir string, start event.Position, secondDelay time.Duration, replicas bool) (*sidecar, error) {
	cfg, err := config.Parse([]byte(o.sidecarConfig(dir, secondDelay, replicas)), "torture sidecar config", nil)
	if err != nil {
		return nil, err
	}
	store := &checkpoint.FileStore{Path: cfg.Checkpoint.Path}
	if err := store.Save(ctx, start); err != nil {
		return nil, err
	}
	// Its warnings (binlog retention headroom on a fresh server) are noise
	// here; its errors are not.
	log := o.log().Named("cachesync").WithOptions(zap.IncreaseLevel(zap.ErrorLevel))
	reg := prometheus.NewRegistry()
	deps := pipeline.Deps{Log: log, Metrics: metrics.New(reg), Health: pipeline.NewHealth(log, nil),
		Exit: func(code int) { log.Error("cachesync did not stop after a hard stop", zap.Int("code", code)) }}
	soft, stopSoft := context.WithCancel(ctx)
	hard, stopHard := context.WithCancel(ctx)
	s := &sidecar{store: store, done: make(chan error, 1), stopSoft: stopSoft, stopHard: stopHard, reg: reg}
	go func() { s.done <- pipeline.Run(soft, hard, pipeline.RoleAll, cfg, deps) }()
	return s, nil
}

// waitCaughtUp waits until the checkpoint reaches pos. The checkpoint
// passes a transaction only once both of its deletes are done, so from
// then on cachesync deletes nothing more.
func (s *sidecar) waitCaughtUp(ctx context.Context, pos event.Position) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		got, ok, err := s.store.Load(ctx)
		if err != nil {
			return err
		}
		if ok && got.Compare(pos) >= 0 {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err // for stop
			return fmt.Errorf("cachesync stopped before it reached %s: %v", pos, err)
		case <-ctx.Done():
			return fmt.Errorf("cachesync had not reached %s (at %s): %w", pos, got, ctx.Err())
		case <-t.C:
		}
	}
}

// stop stops cachesync gracefully, at once if that takes over 30s.
func (s *sidecar) stop() error {
	s.stopSoft()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	var err error
	select {
	case err = <-s.done:
	case <-t.C:
		s.stopHard()
		err = <-s.done
	}
	s.stopHard()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
