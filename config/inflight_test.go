package config

import "testing"

func TestFirstDeletesInFlight(t *testing.T) {
	for pool, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 16: 8, 17: 8, 100: 8} {
		if got := (RedisConfig{PoolSize: pool}).FirstDeletesInFlight(); got != want {
			t.Errorf("pool_size %d: %d first deletes in flight, want %d", pool, got, want)
		}
	}
	if got := Default().Redis.FirstDeletesInFlight(); got != 8 {
		t.Errorf("default: %d, want 8", got)
	}
}
