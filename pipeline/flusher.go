package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
	"github.com/cachesync/cachesync/source"
	"github.com/cachesync/cachesync/writebehind/flusher"
)

// Flushers is the write-behind side: one flusher per write-behind rule,
// until ctx ends. A flusher finishes the batch in hand when it stops;
// whatever it has not acknowledged is re-delivered later.
func Flushers(ctx context.Context, cfg *config.Config, rules []*config.Rule, d Deps) error {
	log, m, h := d.log(), d.Metrics, d.Health
	rdb, err := sink.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	backoff := cfg.Retry.Backoff()
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range rules {
		// /readyz: "write-behind <stream>" fails while its flusher has been
		// failing (MySQL or Redis) for longer than http.stall_after.
		fl := &failing{}
		go watchFailing(gctx, h, "write-behind "+r.WriteBehind.Stream, fl, cfg.HTTP.StallAfter.D(), time.Second)
		f := flusher.New(rdb, mysqlDialer(cfg.Source), flusher.Config{Rule: r, SecondDelay: cfg.Delete.SecondDelay.D(), OnFailure: fl.fail, OnSuccess: fl.succeed},
			backoff, log.Named("flusher"), m)
		g.Go(func() error {
			if err := f.Run(gctx); err != nil {
				return fmt.Errorf("write-behind flusher of %s (stream %s): %w", r.Table, r.WriteBehind.Stream, err)
			}
			return nil
		})
	}
	log.Info("write-behind flushers started", zap.Int("streams", len(rules)))
	return g.Wait()
}

// mysqlDialer connects the flusher to the source with the source's user
// (source.Connect: source.tls, source.charset, errors that name the fix and
// never contain the password); it needs SELECT, INSERT, UPDATE, DELETE on
// the write-behind tables and CREATE on cachesync_wb_offsets.
func mysqlDialer(src config.SourceConfig) flusher.Dialer {
	return func(ctx context.Context) (*client.Conn, error) {
		c, err := source.Connect(ctx, src, func(c *client.Conn) error {
			c.ReadTimeout, c.WriteTimeout = 30*time.Second, 30*time.Second
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("flusher: %w", err)
		}
		return c, nil
	}
}
