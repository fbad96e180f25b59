package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
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
		f := sink.NewFlusher(rdb, mysqlDialer(cfg.Source), sink.FlusherConfig{Rule: r, SecondDelay: cfg.Delete.SecondDelay.D(), OnFailure: fl.fail, OnSuccess: fl.succeed},
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

// mysqlDialer connects the flusher to the source with the source's user,
// over TLS with source.tls; it needs SELECT, INSERT, UPDATE, DELETE on the
// write-behind tables and CREATE on cachesync_wb_offsets. Errors never
// contain the password.
func mysqlDialer(src config.SourceConfig) sink.Dialer {
	return func(ctx context.Context) (*client.Conn, error) {
		tlsConf, err := canal.SourceTLS(src)
		if err != nil {
			return nil, fmt.Errorf("flusher: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, src.DialTimeout())
		defer cancel()
		c, err := client.ConnectWithContext(cctx, src.Addr, src.User, src.Password.Reveal(), "", src.DialTimeout(),
			func(c *client.Conn) error {
				c.ReadTimeout, c.WriteTimeout = 30*time.Second, 30*time.Second
				return nil
			}, canal.WithTLS(tlsConf))
		if err != nil {
			return nil, fmt.Errorf("flusher: cannot connect to MySQL at %s as %q: %w", src.Addr, src.User, err)
		}
		if err := canal.SetSessionCharset(c, src.Charset); err != nil {
			c.Close()
			return nil, fmt.Errorf("flusher: %w", err)
		}
		return c, nil
	}
}
