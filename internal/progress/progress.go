// Package progress shows how far a long job (replay, backfill) got: a
// progress bar with rate and ETA on a terminal, and otherwise a log line
// every few seconds, so a job under systemd or in CI still reports.
package progress

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.uber.org/zap"
)

// Config describes one job's progress. Poll is called from the reporter's
// goroutine and must be safe for that.
type Config struct {
	What  string // e.g. "backfill shop.users"
	Unit  string // "rows" or "bytes"
	Bar   io.Writer
	Log   *zap.Logger
	Every time.Duration // between log lines without a bar; default 5s
	Poll  func() (done, total int64)
	Now   func() time.Time // default time.Now
}

func (c Config) every() time.Duration {
	if c.Every <= 0 {
		return 5 * time.Second
	}
	return c.Every
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Reporter runs until Stop.
type Reporter struct {
	cfg   Config
	bar   *progressbar.ProgressBar
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// IsTerminal reports whether w is a terminal (where a bar makes sense).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Start begins reporting: a bar when cfg.Bar is set, log lines otherwise.
func Start(cfg Config) *Reporter {
	r := &Reporter{cfg: cfg, start: cfg.now(), stop: make(chan struct{})}
	if cfg.Bar != nil {
		_, total := cfg.Poll()
		r.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(cfg.Bar),
			progressbar.OptionSetDescription(cfg.What),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(cfg.Unit),
			progressbar.OptionShowBytes(cfg.Unit == "bytes"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(cfg.Bar, "\n") }),
		)
	}
	r.wg.Add(1)
	go r.loop()
	return r
}

func (r *Reporter) loop() {
	defer r.wg.Done()
	interval := r.cfg.every()
	if r.bar != nil {
		interval = 200 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.update(true)
			return
		case <-t.C:
			r.update(false)
		}
	}
}

func (r *Reporter) update(final bool) {
	done, total := r.cfg.Poll()
	if r.bar != nil {
		if total > 0 && total != r.bar.GetMax64() {
			r.bar.ChangeMax64(max(total, done))
		}
		_ = r.bar.Set64(done)
		if final {
			_ = r.bar.Exit()
		}
		return
	}
	if final {
		return // the job logs its own summary
	}
	elapsed := r.cfg.now().Sub(r.start)
	fields := []zap.Field{zap.Int64(r.cfg.Unit, done), zap.Duration("elapsed", elapsed.Round(time.Second))}
	if secs := elapsed.Seconds(); secs > 0 {
		perSec := float64(done) / secs
		fields = append(fields, zap.Float64(r.cfg.Unit+"_per_second", float64(int64(perSec*10))/10))
		if total > 0 && perSec > 0 && done <= total {
			eta := time.Duration(float64(total-done) / perSec * float64(time.Second))
			fields = append(fields, zap.Int64("total", total), zap.Duration("eta", eta.Round(time.Second)))
		}
	}
	r.cfg.Log.Info(r.cfg.What+": progress", fields...)
}

// Stop draws the final state and ends reporting.
func (r *Reporter) Stop() {
	close(r.stop)
	r.wg.Wait()
}
