package pipeline

import (
	"context"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/canal"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/sink"
)

// scanHook serves on_truncate: scan and cascade scan: true for the tailer:
// a SCAN of redis.addrs (every master of a cluster) on a client of its own,
// opened when a scan first runs. With transport.kind kafka the tailer
// reaches Redis itself for these, so redis must be configured and
// reachable from it. The returned func closes the client.
func scanHook(cfg *config.Config, log *zap.Logger) (canal.ScanKeys, func()) {
	var sc *sink.Scanner
	hook := func(ctx context.Context, table, reason string, patterns []string) (int64, error) {
		if sc == nil { // only the tailer's goroutine calls it
			rdb, err := sink.NewRedis(cfg.Redis)
			if err != nil {
				return 0, err
			}
			sc = &sink.Scanner{Client: rdb, Rate: cfg.Delete.ScanRate, Command: cfg.Delete.Command, Log: log}
		}
		st, err := sc.Delete(ctx, table, patterns)
		log.Info("scan finished", zap.String("table", table), zap.String("reason", reason),
			zap.Int64("scanned", st.Scanned), zap.Int64("deleted", st.Deleted), zap.Int("masters", st.Masters), zap.Error(err))
		return st.Deleted, err
	}
	return hook, func() {
		if sc != nil {
			sc.Client.Close()
		}
	}
}
