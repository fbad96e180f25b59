package canal

import (
	"context"
	"log/slog"
)

// quietOnStop passes go-mysql's log records on, except once stop has ended:
// then canal reports the interrupted handler call ("handle rows event",
// "canal start sync binlog err") at ERROR level, which for a stop that was
// asked for is no error at all.
type quietOnStop struct {
	slog.Handler
	stop context.Context
}

func (q quietOnStop) Handle(ctx context.Context, r slog.Record) error {
	if q.stop.Err() != nil && r.Level >= slog.LevelError {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietOnStop) WithAttrs(as []slog.Attr) slog.Handler {
	return quietOnStop{Handler: q.Handler.WithAttrs(as), stop: q.stop}
}

func (q quietOnStop) WithGroup(name string) slog.Handler {
	return quietOnStop{Handler: q.Handler.WithGroup(name), stop: q.stop}
}
