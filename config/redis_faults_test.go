package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateRedisRingAndRestart(t *testing.T) {
	cases := []struct {
		name, extra string
		want        []want
	}{
		{"ring", "redis:\n  mode: ring\n  shards:\n    alpha: 127.0.0.1:7001\n    ベータ: 127.0.0.1:7002\n", nil},
		{"ring ketama weights", "redis:\n  mode: ring\n  ring_hash: ketama\n  shards: {a: 'h:1', b: 'h:2'}\n  shard_weights: {b: 3}\n", nil},
		{"ring without shards", "redis: {mode: ring}\n", []want{{6, "redis.shards", "needs at least one shard"}}},
		{"ring with addrs", "redis: {mode: ring, addrs: ['h:1'], shards: {a: 'h:2'}}\n", []want{{6, "redis.addrs", "is not used with mode: ring"}}},
		{"ring bad shard", "redis:\n  mode: ring\n  shards:\n    a: nope\n    b: 'h:1'\n    c: 'h:1'\n", []want{
			{9, "redis.shards.a", "must be host:port"}, {11, "redis.shards.c", `same address as shard "b"`}}},
		{"ring shard twice", "redis:\n  mode: ring\n  shards:\n    a: 'h:1'\n    a: 'h:2'\n", []want{{10, "redis.shards.a", "written twice"}}},
		{"ring weights without ketama", "redis: {mode: ring, shards: {a: 'h:1'}, shard_weights: {a: 2, z: 0}}\n", []want{
			{6, "redis.shard_weights.z", "names no shard"}, {6, "redis.shard_weights.z", "at least 1"},
			{6, "redis.shard_weights", "only used with ring_hash: ketama"}}},
		{"shards without ring", "redis: {shards: {a: 'h:1'}, ring_hash: ketama}\n", []want{
			{6, "redis.shards", "only used with mode: ring"}, {6, "redis.ring_hash", "only used with mode: ring"}}},
		{"bad mode", "redis: {mode: cluster}\n", []want{{6, "redis.mode", `must be auto or ring, got "cluster"`}}},
		{"bad ring hash", "redis: {mode: ring, shards: {a: 'h:1'}, ring_hash: crc}\n", []want{{6, "redis.ring_hash", "must be rendezvous or ketama"}}},
		{"shards not a mapping", "redis: {mode: ring, shards: ['h:1']}\n", []want{{6, "redis.shards", "must be a mapping of name: value"}}},
		{"on_restart replay", "redis: {on_restart: replay, restart_lookback: 1h}\n", nil},
		{"on_restart bad", "redis: {on_restart: flush}\n", []want{{6, "redis.on_restart", "must be warn or replay"}}},
		{"replay without checks", "redis: {on_restart: replay, restart_check: 0s, restart_lookback: 0s}\n", []want{
			{6, "redis.restart_lookback", "must be"}, {6, "redis.restart_check", "must be above 0 with on_restart: replay"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := minimal + c.extra
			_, err := Parse([]byte(src), "t.yaml", env("P", "p"))
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				return
			}
			checkProblems(t, err, c.want...)
		})
	}
}

func TestRedisRestartDefaults(t *testing.T) {
	r := Default().Redis
	if r.Mode != "auto" || r.OnRestart != "warn" || r.RingHash != "rendezvous" ||
		r.RestartLookback.D() != 10*time.Minute || r.RestartCheck.D() != 10*time.Second {
		t.Errorf("defaults: %+v", r)
	}
	cfg, err := Parse([]byte(minimal+"redis:\n  mode: ring\n  shards: {b: 'h:2', a: 'h:1'}\n"), "t.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Redis.RingShards(), ","); got != "a,b" || cfg.Redis.ShardWeight("a") != 1 {
		t.Errorf("shards %q, weight %d", got, cfg.Redis.ShardWeight("a"))
	}
}
