package sink

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/retry"
)

// Scanner deletes every key matching SCAN MATCH patterns, on every master
// of a cluster (a single node or sentinel's master otherwise): what
// on_truncate: scan and cascade scan: true do for rows the binlog does not
// list. Deletes are UNLINK (or DEL) of single keys in pipelines, so no
// command crosses slots; Rate caps the keys deleted per second over all
// masters. A scan is idempotent: a failure is returned, and the caller
// runs the whole scan again.
type Scanner struct {
	Client  redis.UniversalClient
	Rate    int    // keys per second over all masters; 0: no cap
	Count   int64  // SCAN COUNT hint; 0 means 1000
	Command string // unlink or del
	Log     *zap.Logger
	// Every is how often progress is logged; 0 means every 5 s.
	Every time.Duration
}

// ScanStats is what one Delete did.
type ScanStats struct {
	Scanned, Deleted int64 // keys SCAN returned; keys the deletes removed
	Masters          int
}

// Delete scans for patterns and deletes what matches; table names the
// scan in the progress log.
func (s *Scanner) Delete(ctx context.Context, table string, patterns []string) (ScanStats, error) {
	var (
		mu    sync.Mutex
		stats ScanStats
	)
	lim := &rateLimit{rate: s.Rate, start: time.Now()}
	prog := &progress{log: s.Log, table: table, every: s.Every, last: time.Now()}
	one := func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		stats.Masters++
		mu.Unlock()
		for _, p := range patterns {
			if err := s.scanNode(ctx, c, p, lim, func(scanned, deleted int64) {
				mu.Lock()
				defer mu.Unlock()
				stats.Scanned += scanned
				stats.Deleted += deleted
				prog.maybe(stats)
			}); err != nil {
				return fmt.Errorf("scan %q on %s: %w", p, c.Options().Addr, err)
			}
		}
		return nil
	}
	var err error
	switch c := s.Client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, one)
	case *redis.Client:
		err = one(ctx, c)
	default:
		err = fmt.Errorf("cannot scan with a %T", s.Client)
	}
	return stats, err
}

func (s *Scanner) scanNode(ctx context.Context, c *redis.Client, pattern string, lim *rateLimit, add func(scanned, deleted int64)) error {
	count := s.Count
	if count <= 0 {
		count = 1000
	}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, count).Result()
		if err != nil {
			return err
		}
		deleted, err := s.deleteKeys(ctx, c, keys, lim)
		add(int64(len(keys)), deleted)
		if err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (s *Scanner) deleteKeys(ctx context.Context, c *redis.Client, keys []string, lim *rateLimit) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if err := lim.wait(ctx, len(keys)); err != nil {
		return 0, err
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			if s.Command == "del" {
				p.Del(ctx, k)
			} else {
				p.Unlink(ctx, k)
			}
		}
		return nil
	})
	var n int64
	for _, cmd := range cmds {
		if ic, ok := cmd.(*redis.IntCmd); ok {
			n += ic.Val()
		}
	}
	return n, err
}

// rateLimit spaces deletes so that, since start, no more than rate keys per
// second went out (shared by the masters' goroutines).
type rateLimit struct {
	mu    sync.Mutex
	rate  int
	start time.Time
	sent  int64
}

func (l *rateLimit) wait(ctx context.Context, n int) error {
	if l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	l.sent += int64(n)
	due := l.start.Add(time.Duration(float64(l.sent) / float64(l.rate) * float64(time.Second)))
	l.mu.Unlock()
	return retry.SleepCtx(ctx, time.Until(due))
}

type progress struct {
	log   *zap.Logger
	table string
	every time.Duration
	last  time.Time
}

func (p *progress) maybe(s ScanStats) {
	every := p.every
	if every <= 0 {
		every = 5 * time.Second
	}
	if p.log == nil || time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.log.Info("scanning Redis for the keys of rows the binlog does not list", zap.String("table", p.table),
		zap.Int64("scanned", s.Scanned), zap.Int64("deleted", s.Deleted), zap.Int("masters_so_far", s.Masters))
}
