package observe

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/cacheaside"
)

// leasePrefix starts a cacheaside lease placeholder: a miss being filled,
// the key holds no value.
const leasePrefix = cacheaside.Prefix + "L"

// cached is what one key read found.
type cached struct {
	present bool
	version int64
	ok      bool // version read
	err     error
}

// read reads key's version, rate-limited. An error is returned only when
// ctx ended.
func (o *Observer) read(ctx context.Context, c *Change, key string) (cached, error) {
	if err := o.limiter.Wait(ctx); err != nil {
		return cached{}, err
	}
	x := c.x
	if x.Kind == KindHash {
		v, err := o.deps.Redis.HGet(ctx, key, x.Field).Result()
		switch {
		case errors.Is(err, redis.Nil):
			// Field absent: the key may be absent too, or a hash without it.
			n, eerr := o.deps.Redis.Exists(ctx, key).Result()
			if eerr != nil {
				return cached{err: eerr}, ctx.Err()
			}
			if n == 0 {
				return cached{}, nil
			}
			_, verr := x.FromHash(nil)
			return cached{present: true, err: verr}, nil
		case err != nil:
			return cached{present: true, err: err}, ctx.Err()
		}
		n, verr := x.FromHash(&v)
		return cached{present: true, version: n, ok: verr == nil, err: verr}, nil
	}
	v, err := o.deps.Redis.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return cached{}, nil
	case err == nil && strings.HasPrefix(string(v), leasePrefix):
		return cached{}, nil // a cacheaside reader's lease: no value yet
	case err != nil:
		return cached{present: true, err: err}, ctx.Err()
	}
	n, verr := x.FromValue(v)
	return cached{present: true, version: n, ok: verr == nil, err: verr}, nil
}

// stale reports whether what was read is older than the change.
func (c *Change) stale(r cached) bool {
	if !r.present {
		return false
	}
	if c.Delete {
		return true // the row is gone: any value is one it had
	}
	return r.ok && r.version < c.Version
}

// check reads every key of c at window w and records each result. At the
// last window a stale key is confirmed against the database first.
func (o *Observer) check(ctx context.Context, c *Change, w int) error {
	last := w == len(o.cfg.Windows)-1
	var confirmed *string // the database's verdict, read once per change
	for _, key := range c.Keys {
		r, err := o.read(ctx, c, key)
		if err != nil {
			return err
		}
		switch {
		case r.err != nil && errors.Is(r.err, ErrNoVersion) && !c.Delete:
			o.record(c, w, Unreadable)
		case r.err != nil && !errors.Is(r.err, ErrNoVersion):
			o.deps.Log.Warn("consistency check: reading the cache failed", zap.String("key", key), zap.Error(r.err))
			o.record(c, w, Failed)
		case !c.stale(r):
			o.record(c, w, Consistent)
		case !last:
			o.record(c, w, Suspect)
		default:
			if confirmed == nil {
				v := o.confirm(ctx, c)
				confirmed = &v
			}
			o.record(c, w, *confirmed)
			if *confirmed == Inconsistent {
				o.logInconsistent(c, key, r)
			}
		}
	}
	return ctx.Err()
}

// confirm re-reads the row: it counts as inconsistent only if the database
// still holds the change (the same version, or still no row after a
// DELETE); a row that changed again is superseded.
func (o *Observer) confirm(ctx context.Context, c *Change) string {
	cur, exists, err := o.deps.Confirm.Current(ctx, c.Ref)
	switch {
	case err != nil:
		o.deps.Log.Warn("consistency check: re-reading the row failed", zap.String("row", c.Row), zap.Error(err))
		return Failed
	case c.Delete && exists, !c.Delete && (!exists || cur != c.Version):
		return Superseded
	}
	return Inconsistent
}

// logInconsistent logs a confirmed inconsistency, once (a change reaches
// its last window once).
func (o *Observer) logInconsistent(c *Change, key string, r cached) {
	committed := version(c.Version, !c.Delete)
	if c.Delete {
		committed = "deleted"
	}
	fields := []zap.Field{zap.String("rule", c.Rule), zap.String("key", key), zap.String("row", c.Row),
		zap.String("committed_version", committed), zap.String("cached_version", version(r.version, r.ok)),
		zap.Time("commit_time", c.Commit), zap.Duration("after", o.cfg.Windows[len(o.cfg.Windows)-1])}
	if o.deps.DeleteTimes != nil {
		if first, second, ok := o.deps.DeleteTimes(key, c.Commit); ok {
			fields = append(fields, zap.Time("first_delete", first), zap.Time("second_delete", second))
			o.deps.Log.Error("cache inconsistent with the database", fields...)
			return
		}
	}
	fields = append(fields, zap.String("deletes", "not known: the observer runs apart from the deleter (or it did not delete this key)"))
	o.deps.Log.Error("cache inconsistent with the database", fields...)
}
