package pipeline

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/source"
)

// watchBinlogSettings re-reads the source's global binlog_format and
// binlog_row_image: start-up refuses anything but ROW and FULL, and a later
// SET GLOBAL makes every new session write statements or partial images.
// The tailer catches each such change of a mapped table as it reads it
// (source.on_statement_dml); this says so before, once per change of the
// settings, and keeps cachesync_binlog_settings_ok at 0 meanwhile.
func watchBinlogSettings(ctx context.Context, src config.SourceConfig, m *metrics.Metrics, log *zap.Logger, every time.Duration) {
	m.BinlogSettingsOK.Set(1) // start-up checked them
	last := "ROW/FULL"
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		format, image, err := source.BinlogSettings(ctx, src)
		if err != nil {
			log.Debug("cannot read the binlog settings", zap.Error(err))
			continue
		}
		now := strings.ToUpper(format) + "/" + strings.ToUpper(image)
		if now == last {
			continue
		}
		last = now
		if now == "ROW/FULL" {
			m.BinlogSettingsOK.Set(1)
			log.Info("the source's binlog_format and binlog_row_image are ROW and FULL again; sessions opened before may still write the old way until they reconnect")
			continue
		}
		m.BinlogSettingsOK.Set(0)
		log.Error("the source's global binlog settings changed: new sessions write binlog cachesync cannot turn into keys; each such change of a mapped table is handled by source.on_statement_dml. Fix: SET GLOBAL binlog_format=ROW, binlog_row_image=FULL (and in my.cnf)",
			zap.String("binlog_format", format), zap.String("binlog_row_image", image))
	}
}
