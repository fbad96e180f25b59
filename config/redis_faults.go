package config

import (
	"sort"
	"strings"
)

// The Redis keys for the two edges of issue 18: a Redis that restarted
// (on_restart, restart_lookback, restart_check) and client-side sharding
// (mode: ring, shards, shard_weights, ring_hash).

// RingShards returns the shard names of mode: ring, sorted.
func (r RedisConfig) RingShards() []string {
	names := make([]string, 0, len(r.Shards))
	for n := range r.Shards {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ShardWeight is a shard's ketama weight: shard_weights, default 1.
func (r RedisConfig) ShardWeight(name string) int {
	if w, ok := r.ShardWeights[name]; ok {
		return w
	}
	return 1
}

func (r *RedisConfig) checkFaults(k *checker) {
	k.oneOf("redis.mode", r.Mode, "auto", "ring")
	k.oneOf("redis.on_restart", r.OnRestart, "warn", "replay")
	k.notNegative("redis.restart_check", r.RestartCheck, "no check")
	if r.OnRestart == "replay" {
		k.positive("redis.restart_lookback", r.RestartLookback, "10m")
		if r.RestartCheck == 0 {
			k.addf("redis.restart_check", "must be above 0 with on_restart: replay (a restart that is never looked for is never replayed), got 0")
		}
	}
	if r.Mode != "ring" {
		// The example config writes them empty, so only a value counts.
		used := map[string]bool{"shards": len(r.Shards) > 0, "shard_weights": len(r.ShardWeights) > 0, "ring_hash": r.RingHash == "ketama"}
		for _, key := range []string{"shards", "shard_weights", "ring_hash"} {
			if used[key] {
				k.addf("redis."+key, "is only used with mode: ring: set redis.mode: ring, or remove it")
			}
		}
	}
}

// checkRing checks mode: ring. Shard names are what place keys (go-redis
// Ring hashes the names, not the addresses), so they must be the ones the
// application's Ring (or twemproxy's pool) uses.
func (r *RedisConfig) checkRing(k *checker) {
	k.oneOf("redis.ring_hash", r.RingHash, "rendezvous", "ketama")
	if k.written("redis.addrs") {
		k.addf("redis.addrs", "is not used with mode: ring: the shards are in redis.shards (name: host:port)")
	}
	if r.MasterName != "" {
		k.addf("redis.master_name", "cannot be combined with mode: ring: each shard is one address")
	}
	if len(r.Shards) == 0 {
		k.addf("redis.shards", "needs at least one shard with mode: ring, such as {shard1: 127.0.0.1:6379}, named as the application's Ring names them")
	}
	seen := map[string]string{}
	for _, name := range r.RingShards() {
		p := "redis.shards." + name
		if strings.TrimSpace(name) != name || name == "" {
			k.addf(p, "a shard name must not be empty or have leading or trailing spaces: names place keys, write them exactly as the application does")
		}
		addr := r.Shards[name]
		k.addr(p, addr, "127.0.0.1:6379", false)
		if other, dup := seen[addr]; dup {
			k.addf(p, "has the same address as shard %q: each shard is its own server", other)
		}
		seen[addr] = name
	}
	for name, w := range r.ShardWeights {
		p := "redis.shard_weights." + name
		if _, ok := r.Shards[name]; !ok {
			k.addf(p, "names no shard of redis.shards")
		}
		if w < 1 {
			k.addf(p, "must be at least 1, got %s", k.showInt(p, w))
		}
	}
	if len(r.ShardWeights) > 0 && r.RingHash != "ketama" {
		k.addf("redis.shard_weights", "is only used with ring_hash: ketama (go-redis Ring's rendezvous hashing has no weights)")
	}
}
