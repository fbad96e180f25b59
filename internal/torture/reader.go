package torture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// fillStrategy is how a reader reads through the cache: a hit returns the
// cached value; a miss calls load (the MySQL read, then the injected pause)
// and fills the cache by the strategy's rules. Every mode runs the same
// reader loop; only this differs.
type fillStrategy interface {
	get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error)
}

// plainFill is the usual cache-aside code: GET; on a miss, load and SET.
type plainFill struct{ rdb redis.UniversalClient }

func (p plainFill) get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	v, err := p.rdb.Get(ctx, key).Bytes()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis GET %s: %w", key, err)
	}
	if v, err = load(ctx); err != nil {
		return nil, err
	}
	if err := p.rdb.Set(ctx, key, v, 0).Err(); err != nil {
		return nil, fmt.Errorf("redis SET %s: %w", key, err)
	}
	return v, nil
}

func itemKey(id int) string { return "item:" + strconv.Itoa(id) }

// encodeValue is what a fill caches, as JSON: the row's version (where
// the consistency observer reads it, observe: {field: "$.version"}), the
// fill that wrote it (reader.sequence) and the payload.
func encodeValue(version int64, reader, seq int, text string) []byte {
	b, _ := json.Marshal(cachedValue{Version: &version, Fill: strconv.Itoa(reader) + "." + strconv.Itoa(seq), Text: text})
	return b
}

type cachedValue struct {
	Version *int64 `json:"version"`
	Fill    string `json:"fill"`
	Text    string `json:"text"`
}

// decodeValue reads encodeValue's format; ok is false for anything else
// (a lease placeholder).
func decodeValue(b []byte) (version int64, reader, seq int, ok bool) {
	var v cachedValue
	if json.Unmarshal(b, &v) != nil || v.Version == nil {
		return 0, 0, 0, false
	}
	rs, ss, found := strings.Cut(v.Fill, ".")
	r, err2 := strconv.Atoi(rs)
	s, err3 := strconv.Atoi(ss)
	if !found || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return *v.Version, r, s, true
}

// fillRecord is one load: its pause and when it read and returned, since
// the mode started.
type fillRecord struct {
	pause, readAt, loadedAt time.Duration
}

// reader is one reader goroutine's state. Its loads run inside fill.get;
// mu guards what a load touches, in case a strategy runs it on another
// goroutine.
type reader struct {
	idx   int
	rows  int
	rng   *rand.Rand // row choice: the loop's own
	fill  fillStrategy
	pool  chan *rowReader // MySQL connections shared by the readers, held for the read only
	start time.Time
	dist  Dist

	mu       sync.Mutex
	pauseRng *rand.Rand
	fills    []fillRecord
	loads    int64

	reads, errors int64
	firstErr      error
}

// run reads random rows until stop closes or ctx ends. A read in flight
// when stop closes finishes, fill included: that late fill is the race.
func (r *reader) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		id := 1 + r.rng.IntN(r.rows)
		_, err := r.fill.get(ctx, itemKey(id), func(ctx context.Context) ([]byte, error) { return r.load(ctx, id) })
		r.reads++
		if err != nil && ctx.Err() == nil {
			r.errors++
			if r.firstErr == nil {
				r.firstErr = err
			}
			time.Sleep(time.Millisecond) // a failing server is not a reason to spin
		}
	}
}

// load reads row id from MySQL, then pauses as drawn, then returns the
// value to cache: the fill happens after the pause.
func (r *reader) load(ctx context.Context, id int) ([]byte, error) {
	r.mu.Lock()
	r.loads++
	pause := r.dist.Sample(r.pauseRng)
	r.mu.Unlock()
	var rr *rowReader
	select {
	case rr = <-r.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	readAt := time.Since(r.start)
	version, text, err := rr.read(id)
	r.pool <- rr // not held through the pause: a paused reader holds no connection
	if err != nil {
		return nil, err
	}
	if pause > 0 {
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := len(r.fills)
	r.fills = append(r.fills, fillRecord{pause: pause, readAt: readAt, loadedAt: time.Since(r.start)})
	return encodeValue(version, r.idx, seq, text), nil
}
