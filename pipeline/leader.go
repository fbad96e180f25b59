package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/retry"
	"github.com/cachesync/cachesync/sink"
)

// Tailer is the tailer side: it streams the binlog with its checkpoint
// store until soft (graceful) or hard ends. The store is a file, locked for
// this process, or Redis shared by every instance of the config, where one
// instance at a time — the holder of the leader lease — streams and the
// others wait to take over.
func Tailer(soft, hard context.Context, cfg *config.Config, d Deps) error {
	if cfg.Checkpoint.Store != "redis" {
		return onCheckpointFile(soft, hard, cfg, d)
	}
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	keys := checkpoint.KeysFor(cfg.Checkpoint.Key)
	lease := checkpoint.NewLease(rdb, keys, cfg.Checkpoint.Lease.D())
	store := &checkpoint.RedisStore{RDB: rdb, Keys: keys, Lease: lease}
	return lead(soft, hard, lease, keys.Lease, cfg.Retry.Backoff(), d.log().Named("leader"), func(soft, hard context.Context) error {
		return stream(soft, hard, cfg, store, d)
	})
}

// lead runs run each time this instance holds the lease, until soft ends
// or run returns on its own. Without the lease it stands by, asking again
// every ttl/4. A run whose lease is lost is stopped hard, and the instance
// stands by again.
func lead(soft, hard context.Context, lease *checkpoint.Lease, name string, backoff retry.Backoff, llog *zap.Logger,
	run func(soft, hard context.Context) error) error {
	standby := false
	for attempt := 0; ; {
		got, err := lease.TryAcquire(soft)
		if soft.Err() != nil {
			return nil
		}
		if err != nil {
			llog.Warn("cannot reach redis for the leader lease; retrying", zap.Error(err))
			if retry.SleepCtx(soft, backoff.Delay(attempt)) != nil {
				return nil
			}
			attempt++
			continue
		}
		attempt = 0
		if !got {
			if !standby {
				llog.Info("standby: another instance holds the leader lease; waiting to take over", zap.String("lease", name))
				standby = true
			}
			if retry.SleepCtx(soft, lease.TTL()/4) != nil {
				return nil
			}
			continue
		}
		standby = false
		llog.Info("leader lease acquired: streaming", zap.Int64("fencing_token", lease.Token()), zap.String("lease", name))
		lost, err := leadWhileHeld(soft, hard, lease, llog, run)
		if !lost {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if rerr := lease.Release(rctx); rerr != nil {
				llog.Warn("could not release the leader lease; a standby takes over when it expires", zap.Error(rerr))
			}
			cancel()
			return err
		}
		llog.Error("lost the leader lease: stopped at once, without saving the checkpoint; standing by", zap.Error(err))
	}
}

// onCheckpointFile runs the tailer on a checkpoint file, locked for this
// process: a second instance on the same file refuses to start.
func onCheckpointFile(soft, hard context.Context, cfg *config.Config, d Deps) error {
	if err := CheckCheckpointDir(cfg.Checkpoint); err != nil {
		return err
	}
	store := &checkpoint.FileStore{Path: cfg.Checkpoint.Path}
	release, err := store.Lock()
	if err != nil {
		return err
	}
	defer release()
	return stream(soft, hard, cfg, store, d)
}

// leadWhileHeld runs run while the lease is renewed every ttl/4. When the
// lease is lost — taken, or not renewable for a whole ttl — run is stopped
// hard (another leader may be streaming already) and lost is true.
func leadWhileHeld(soft, hard context.Context, lease *checkpoint.Lease, log *zap.Logger,
	run func(soft, hard context.Context) error) (lost bool, err error) {
	rsoft, stopSoft := context.WithCancel(soft)
	defer stopSoft()
	rhard, stopHard := context.WithCancelCause(hard)
	defer stopHard(nil)
	renewDone := make(chan struct{})
	var lostLease bool
	go func() {
		defer close(renewDone)
		ok := time.Now()
		retry.Every(rsoft, lease.TTL()/4, func() bool {
			held, rerr := lease.Renew(rhard)
			switch {
			case rerr == nil && held:
				ok = time.Now()
				return true
			case rerr != nil && time.Since(ok) < lease.TTL():
				log.Warn("cannot renew the leader lease; retrying", zap.Error(rerr))
				return true
			case rerr != nil:
				rerr = fmt.Errorf("not renewed for %s: %w", lease.TTL(), rerr)
			default:
				rerr = errors.New("another instance holds it now")
			}
			lostLease = true
			stopHard(rerr)
			stopSoft()
			return false
		})
	}()
	err = run(rsoft, rhard)
	stopSoft()
	<-renewDone
	if lostLease {
		return true, context.Cause(rhard)
	}
	return false, err
}
