package pipeline

import (
	"context"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/sink/replicas"
	"github.com/cachesync/cachesync/source"
)

// newReplicaWatcher returns the poller of the read replicas for
// delete.second: replicas, nil otherwise. The tailer's deleter (direct
// transport) and each Kafka consumer's deleter poll the replicas
// themselves: the consumer needs nothing from the tailer but the GTID or
// position each message carries.
func newReplicaWatcher(cfg *config.Config, d Deps) *replicas.Watcher {
	if !cfg.Delete.WaitsForReplicas() || len(cfg.Replicas) == 0 {
		return nil
	}
	h := d.Health
	o := ReplicaOptions(cfg)
	o.OnState = func(name string, up bool, why string) {
		if h == nil {
			return
		}
		if up {
			why = ""
		} else {
			why = "does not answer (" + why + "): its second deletes go at delete.replica_max_wait"
		}
		h.degrade("replica "+name, why)
	}
	return replicas.New(o, d.log().Named("replicas"), &d.Metrics.Replicas)
}

// ReplicaOptions are how the replicas of cfg are polled: with GTIDs on
// MariaDB or with source.gtid, connected like the source.
func ReplicaOptions(cfg *config.Config) replicas.Options {
	return replicas.Options{
		Replicas: cfg.Replicas, Source: cfg.Source,
		GTID: cfg.Source.GTID || cfg.Source.Flavor == "mariadb",
		Dial: func(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
			return source.Connect(ctx, src)
		},
	}
}

// withReplicas sets the deleter config's waiter.
func withReplicas(c sink.DeleterConfig, cfg *config.Config, w *replicas.Watcher) sink.DeleterConfig {
	if w != nil {
		c.Replicas, c.ReplicaMaxWait = w, cfg.Delete.ReplicaMaxWaitOr()
	}
	return c
}

// watchedDeleter runs the replica watcher for as long as its deleter runs.
type watchedDeleter struct {
	*sink.Deleter
	w *replicas.Watcher
}

func (o watchedDeleter) Run(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = o.w.Run(wctx)
	}()
	err := o.Deleter.Run(ctx)
	cancel()
	<-done
	return err
}
