package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// A SET GLOBAL binlog_format made after start-up is found by the periodic
// re-check: the gauge drops to 0 with one error line, and comes back.
func TestWatchBinlogSettings(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	src := config.Default().Source
	src.Addr, src.User, src.Flavor = db.Addr, "root", "mariadb"
	m := metrics.New(nil)
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchBinlogSettings(ctx, src, m, zap.New(core), 20*time.Millisecond)
	waitGauge := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); testutil.ToFloat64(m.BinlogSettingsOK) != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("cachesync_binlog_settings_ok stayed %v, want %v", testutil.ToFloat64(m.BinlogSettingsOK), want)
			}
		}
	}
	waitGauge(1)
	db.Exec(t, "SET GLOBAL binlog_format = 'MIXED'")
	waitGauge(0)
	// Leave MIXED in place for many re-checks (every 20ms): a setting
	// that stays changed is said once, not at each re-check.
	time.Sleep(500 * time.Millisecond)
	db.Exec(t, "SET GLOBAL binlog_format = 'ROW'")
	waitGauge(1)
	cancel()
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(errs) != 1 || errs[0].ContextMap()["binlog_format"] != "MIXED" {
		t.Errorf("want one error line naming binlog_format MIXED, got %v", logs.All())
	}
}
