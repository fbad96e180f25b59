package torture

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxStaleShown caps the stale keys listed one by one in a ModeResult.
const maxStaleShown = 50

// compare checks every cached item key against MySQL and fills res: the
// stale keys, which fill wrote each, and the pauses of all fills. It runs
// after every reader, writer and delete is done.
func (o *Options) compare(ctx context.Context, rdb redis.UniversalClient, readers []*reader, res *ModeResult) error {
	current, err := o.versions(ctx)
	if err != nil {
		return err
	}
	var keys []string
	iter := rdb.Scan(ctx, 0, "item:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis SCAN item:*: %w", err)
	}
	sort.Slice(keys, func(i, j int) bool { return keyID(keys[i]) < keyID(keys[j]) })
	res.Pauses = newBuckets()
	for _, r := range readers {
		for _, f := range r.fills {
			res.Pauses[bucketOf(f.pause)].Fills++
		}
	}
	const batch = 500
	for lo := 0; lo < len(keys); lo += batch {
		part := keys[lo:min(lo+batch, len(keys))]
		vals, err := rdb.MGet(ctx, part...).Result()
		if err != nil {
			return fmt.Errorf("redis MGET: %w", err)
		}
		for i, v := range vals {
			s, isStr := v.(string)
			if !isStr {
				continue // gone since the SCAN: a lease placeholder that expired
			}
			if err := res.check(part[i], []byte(s), current, readers); err != nil {
				return err
			}
		}
	}
	if res.Reads > 0 {
		res.StalePerMillion = float64(res.Stale) * 1e6 / float64(res.Reads)
	}
	return nil
}

// check compares one cached value with its row's version.
func (res *ModeResult) check(key string, val []byte, current []int64, readers []*reader) error {
	id := keyID(key)
	version, ri, seq, ok := decodeValue(val)
	if !ok {
		res.Unparsed++
		return nil
	}
	if id < 1 || id >= len(current) || ri < 0 || ri >= len(readers) || seq < 0 || seq >= len(readers[ri].fills) {
		return fmt.Errorf("%s holds %q, which no fill of this run wrote", key, val)
	}
	res.Keys++
	switch {
	case version > current[id]:
		return fmt.Errorf("%s holds version %d, newer than MySQL's %d: the harness is wrong", key, version, current[id])
	case version == current[id]:
		return nil
	}
	f := readers[ri].fills[seq]
	pause := Millis(f.pause)
	if res.Stale == 0 || pause < res.StalePauseMin {
		res.StalePauseMin = pause
	}
	res.StalePauseMax = max(res.StalePauseMax, pause)
	res.Stale++
	res.Pauses[bucketOf(f.pause)].Stale++
	if f.pause < time.Duration(res.secondDelay) {
		res.StaleUnderD++
	}
	if len(res.StaleKeys) < maxStaleShown {
		res.StaleKeys = append(res.StaleKeys, StaleKey{Key: key, Cached: version, Current: current[id],
			Fill: strconv.Itoa(ri) + "." + strconv.Itoa(seq), Pause: pause, ReadAt: Millis(f.readAt), LoadedAt: Millis(f.loadedAt)})
	}
	return nil
}

// keyID is the row id in item:{id}, or 0.
func keyID(key string) int {
	id, err := strconv.Atoi(strings.TrimPrefix(key, "item:"))
	if err != nil {
		return 0
	}
	return id
}
