package cacheaside

import "sync/atomic"

// Stats are a client's counters since New. Hits, NegativeHits and Misses
// split the Gets that reached Redis by what their first GET found; the
// others count the miss paths (one per key and process at a time, see
// Shared).
type Stats struct {
	Hits         uint64 // Gets answered from a cached value
	NegativeHits uint64 // Gets answered from a cached "not found"
	Misses       uint64 // Gets that found no value: the key absent, or another reader's placeholder
	Shared       uint64 // misses answered by another caller's miss path in this process (singleflight)
	Loads        uint64 // loader calls
	Fills        uint64 // fenced fills that stored a value or a "not found"
	RefusedFills uint64 // fenced fills refused: the placeholder was gone (an invalidation, or the lease expired)
	Waits        uint64 // miss paths that found another reader's placeholder and waited
	WaitTimeouts uint64 // waits that passed HotMissWait and loaded without filling
	RedisErrors  uint64 // Redis calls that failed: the read was served by the loader, uncached
}

type counters struct {
	hits, negativeHits, misses, shared, loads atomic.Uint64
	fills, refusedFills, waits, waitTimeouts  atomic.Uint64
	redisErrors                               atomic.Uint64
}

// Stats returns the counters. Each is read atomically; together they are
// not one snapshot.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{Hits: s.hits.Load(), NegativeHits: s.negativeHits.Load(), Misses: s.misses.Load(),
		Shared: s.shared.Load(), Loads: s.loads.Load(), Fills: s.fills.Load(), RefusedFills: s.refusedFills.Load(),
		Waits: s.waits.Load(), WaitTimeouts: s.waitTimeouts.Load(), RedisErrors: s.redisErrors.Load()}
}
