// Package cacheaside is the read side of cachesync: a cache-aside client
// whose fills are fenced by leases, so a fill that read a row older than
// the last invalidation is refused instead of caching the old row until
// its TTL.
//
// On a miss, one Lua script stores a placeholder (Prefix, "L", a random
// token; expires after LeaseTTL) at the absent key. The loader then reads
// the row, and a second script writes the value only if the key still holds
// exactly that placeholder. cachesync's plain UNLINK of the key in between
// removes the placeholder, so the fill is refused; the caller still gets the
// value it loaded. A reader that finds another reader's placeholder waits
// for its fill (no stampede on MySQL), at most HotMissWait, then loads
// without filling. Misses of one key in one process share one load
// (singleflight); "not found" can be cached as a tombstone (NegativeTTL);
// TTLs get random jitter against synchronized expiry.
//
// Every script takes exactly one key, so the client works on a single
// Redis, a Redis Cluster and behind Sentinel alike. The scripts are
// embedded (LeaseScript, FillScript, ReleaseScript) and documented for
// callers in other languages in scripts/*.lua and the README ("Cache-aside
// with lease-fenced fills"), with the argument why a fill can never leave
// a row older than the last invalidation cached.
package cacheaside

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

//go:embed scripts/lease.lua
var leaseSource string

//go:embed scripts/fill.lua
var fillSource string

//go:embed scripts/release.lua
var releaseSource string

// LeaseScript, FillScript and ReleaseScript return the Lua sources, for
// applications that SCRIPT LOAD them and call them with EVALSHA.
func LeaseScript() string   { return leaseSource }
func FillScript() string    { return fillSource }
func ReleaseScript() string { return releaseSource }

// ErrNotFound is what a loader returns (wrapped or not) when the row does
// not exist; Get returns it too, also when the "not found" came from the
// cache.
var ErrNotFound = errors.New("cacheaside: not found")

// Config tunes a Client. The zero value of each field but TTL means its
// default, written in the field's comment.
type Config struct {
	TTL         time.Duration // how long a filled value lives; required (>= 1ms)
	Jitter      float64       // fraction of TTL added at random, 0..1 (e.g. 0.1), against synchronized expiry
	LeaseTTL    time.Duration // lifetime of a lease placeholder; default 2s
	HotMissWait time.Duration // how long a reader waits on another reader's placeholder before loading without filling; default 100ms
	NegativeTTL time.Duration // TTL of a cached "not found" (jitter applies too); 0: not cached
	// Version, optional, returns the row's version (its version column) from
	// a loaded value; a fill then stores it beside the value, where
	// cachesync's consistency observer reads it (rule observe: {stamp:
	// cacheaside}). ok false stores the value unstamped. Hits are unchanged:
	// Get still returns the caller's bytes without a copy.
	Version func(value []byte) (version int64, ok bool)
}

// The defaults, in one place (withDefaults).
const (
	defaultLeaseTTL    = 2 * time.Second
	defaultHotMissWait = 100 * time.Millisecond
)

// withDefaults returns cfg with each zero field that has a default set to it.
func (cfg Config) withDefaults() Config {
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = defaultLeaseTTL
	}
	if cfg.HotMissWait == 0 {
		cfg.HotMissWait = defaultHotMissWait
	}
	return cfg
}

// validate returns every problem of cfg (after withDefaults).
func (cfg Config) validate() error {
	var errs []error
	if cfg.TTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("TTL %v: must be at least 1ms (Redis keeps TTLs in milliseconds)", cfg.TTL))
	}
	if !(cfg.Jitter >= 0 && cfg.Jitter <= 1) {
		errs = append(errs, fmt.Errorf("Jitter %v: must be a fraction of TTL between 0 and 1", cfg.Jitter))
	}
	if cfg.LeaseTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("LeaseTTL %v: must be at least 1ms, or 0 for the default %v", cfg.LeaseTTL, defaultLeaseTTL))
	}
	if cfg.HotMissWait < 0 {
		errs = append(errs, fmt.Errorf("HotMissWait %v: must not be negative (0: the default %v)", cfg.HotMissWait, defaultHotMissWait))
	}
	if cfg.NegativeTTL != 0 && cfg.NegativeTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("NegativeTTL %v: must be 0 (not cached) or at least 1ms", cfg.NegativeTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cacheaside config: %w", err)
	}
	return nil
}

// Client reads through the cache. It is safe for concurrent use.
type Client struct {
	rdb     redis.UniversalClient
	cfg     Config
	lease   *redis.Script
	fill    *redis.Script
	release *redis.Script
	flights singleflight.Group
	stats   counters
}

// New returns a client on rdb (a single Redis, a Cluster or a Sentinel
// failover client) after checking cfg and filling its defaults.
func New(rdb redis.UniversalClient, cfg Config) (*Client, error) {
	if rdb == nil {
		return nil, errors.New("cacheaside: no Redis client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{rdb: rdb, cfg: cfg, lease: redis.NewScript(leaseSource),
		fill: redis.NewScript(fillSource), release: redis.NewScript(releaseSource)}, nil
}

// Config returns the client's config, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Get returns the value cached at key, or loads it with load and caches it
// under a lease (see the package doc). load reads the row from the primary;
// it returns ErrNotFound (wrapped or not) when the row does not exist, and
// Get then returns an error that errors.Is ErrNotFound. A refused fill is no
// error: the caller gets the value it loaded. The slice returned is the
// caller's.
func (c *Client) Get(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	stored, err := c.rdb.Get(ctx, key).Bytes()
	if err == nil {
		k, v, err := decode(stored)
		switch {
		case err != nil:
			return nil, fmt.Errorf("cacheaside get %q: %w", key, err)
		case k == isValue:
			c.stats.hits.Add(1)
			return v, nil
		case k == isNotFound:
			c.stats.negativeHits.Add(1)
			return nil, fmt.Errorf("cacheaside get %q: %w (cached)", key, ErrNotFound)
		}
		// Another reader's placeholder: a miss; the miss path waits for it.
	} else if !errors.Is(err, redis.Nil) {
		// Redis is down or refuses: serve the read from the loader, uncached.
		c.stats.redisErrors.Add(1)
		return c.loadOnly(ctx, key, load, "redis: "+err.Error())
	}
	c.stats.misses.Add(1)
	return c.shared(ctx, key, load)
}

// shared runs the miss path of key once for all of this process's callers
// that miss it at the same time. A caller whose own context ends stops
// waiting; when the flight failed only because its first caller's context
// ended, a caller whose context is still live runs the miss path again.
func (c *Client) shared(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	for {
		ran := false // set only if this caller's function runs the flight
		ch := c.flights.DoChan(key, func() (any, error) { ran = true; return c.miss(ctx, key, load) })
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("cacheaside get %q: %w", key, context.Cause(ctx))
		}
		if res.Err != nil && !ran && ctx.Err() == nil && isContextErr(res.Err) {
			continue // another caller's context ended, not ours
		}
		if res.Err != nil {
			return nil, res.Err
		}
		v := res.Val.([]byte)
		if !ran {
			c.stats.shared.Add(1)
		}
		if res.Shared {
			v = append([]byte(nil), v...) // every caller owns its slice
		}
		return v, nil
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// expiry returns base plus a random part of up to Jitter × base, in whole
// milliseconds (what PX takes), at least 1ms.
func (c *Client) expiry(base time.Duration) int64 {
	ms := base.Milliseconds()
	if spread := int64(float64(ms) * c.cfg.Jitter); spread > 0 {
		ms += rand.Int64N(spread + 1)
	}
	return max(ms, 1)
}
