package flusher

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A dead-lettered entry had already changed the cache through the script
// while MySQL keeps the old row: its owned keys (write_behind.keys) are
// deleted with the dead letter, before COMMIT, and once more after
// SecondDelay, like any invalidation.

// ownedKeys renders the rule's owned keys from the entry's primary key and
// the columns it wrote; a template needing a column the entry does not carry
// is logged, since the key the script wrote cannot be known.
func (f *Flusher) ownedKeys(it *item) []string {
	e := it.entry
	if e.PK == nil || !f.cfg.Rule.Matches(e.DB, e.Table) {
		return nil // unreadable, or another table's: the rule's templates do not say which key it wrote
	}
	value := func(col string) (string, bool) {
		for _, m := range []map[string]any{e.PK, e.Cols} {
			for k, v := range m {
				if strings.EqualFold(k, col) {
					return keyText(v)
				}
			}
		}
		return "", false
	}
	var keys []string
	for _, i := range f.cfg.Rule.WriteBehind.Owned {
		tpl := f.cfg.Rule.Templates[i]
		k, ok := tpl.Render(value)
		if !ok {
			f.log.Error("cannot render an owned key of a dead-lettered entry (a column it needs is not in the entry, or NULL): that key may keep the refused value; delete it by hand",
				zap.String("entry_id", it.id), zap.String("template", tpl.Raw))
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// keyText is a JSON value as the application had it when it built the key:
// numbers exactly as written, booleans as MySQL shows them (1, 0); NULL
// renders no key.
func keyText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// queueDeletes adds the deletion of keys to pipe.
func queueDeletes(ctx context.Context, pipe redis.Pipeliner, keys []string) {
	for _, k := range keys {
		pipe.Del(ctx, k) // one key per command: keys of a cluster may be in different slots
	}
}

// deleteLater deletes keys again after SecondDelay; Run waits for it.
func (f *Flusher) deleteLater(keys []string) {
	if len(keys) == 0 || f.cfg.SecondDelay <= 0 {
		return
	}
	f.later.Add(1)
	time.AfterFunc(f.cfg.SecondDelay, func() {
		defer f.later.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pipe := f.rdb.Pipeline()
		queueDeletes(ctx, pipe, keys)
		if _, err := pipe.Exec(ctx); err != nil {
			f.m.redisErrs.Inc()
			f.log.Error("second delete of dead-lettered entries' owned keys failed: they may hold a value MySQL refused; delete them by hand",
				zap.Strings("keys", keys), zap.Error(err))
		}
	})
}

// keysOf is every owned key of the dead entries.
func (f *Flusher) keysOf(dead []*item) []string {
	var keys []string
	for _, it := range dead {
		keys = append(keys, f.ownedKeys(it)...)
	}
	return keys
}
