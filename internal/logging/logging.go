// Package logging builds the zap logger and bridges libraries that log
// through log/slog (go-mysql) into it, so there is one log stream and format.
package logging

import (
	"context"
	"fmt"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a zap logger writing JSON (format "json", the default) or
// human-readable lines ("console") to stderr at the given level.
func New(format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	var cfg zap.Config
	switch format {
	case "", "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("log format %q: use json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	cfg.DisableStacktrace = true
	return cfg.Build()
}

// Slog returns a *slog.Logger that writes into l. minLevel drops library
// chatter below it (go-mysql logs every rotate at info).
func Slog(l *zap.Logger, minLevel slog.Level) *slog.Logger {
	return slog.New(&handler{l: l, min: minLevel})
}

type handler struct {
	l     *zap.Logger
	min   slog.Level
	attrs []zap.Field
}

func (h *handler) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= h.min }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	fields := append([]zap.Field(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.l.Error(r.Message, fields...)
	case r.Level >= slog.LevelWarn:
		h.l.Warn(r.Message, fields...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, fields...)
	default:
		h.l.Debug(r.Message, fields...)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &handler{l: h.l, min: h.min, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, zap.Any(a.Key, a.Value.Any()))
	}
	return n
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{l: h.l.Named(name), min: h.min, attrs: h.attrs}
}

// Printfer is go-redis's logger interface (redis.SetLogger).
type Printfer struct{ l *zap.Logger }

// Printf logs at debug: go-redis reports pool dial failures that the
// deleter already reports, with table, keys and position, at warn.
func (p Printfer) Printf(_ context.Context, format string, v ...any) {
	if ce := p.l.Check(zap.DebugLevel, ""); ce != nil {
		ce.Message = fmt.Sprintf(format, v...)
		ce.Write()
	}
}

// Redis returns the go-redis logger that writes into l.
func Redis(l *zap.Logger) Printfer { return Printfer{l: l.Named("go-redis")} }
