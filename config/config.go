// Package config is the YAML contract of cachesync: one sub-struct per
// component, defaults in one place (Default), and validation without side
// effects that reports every problem with its YAML line.
package config

import (
	"time"

	"github.com/cachesync/cachesync/retry"
)

// Config is the whole file.
type Config struct {
	Source     SourceConfig     `yaml:"source"`
	Checkpoint CheckpointConfig `yaml:"checkpoint"`
	Transport  TransportConfig  `yaml:"transport"`
	Redis      RedisConfig      `yaml:"redis"`
	Delete     DeleteConfig     `yaml:"delete"`
	Replicas   []ReplicaConfig  `yaml:"replicas"`
	Retry      RetryConfig      `yaml:"retry"`
	HTTP       HTTPConfig       `yaml:"http"`
	Shutdown   ShutdownConfig   `yaml:"shutdown"`
	Observe    ObserveConfig    `yaml:"observe"`
	Rules      []Rule           `yaml:"rules"`

	// src is where each value was written (lines, values from the
	// environment), so Validate can report lines. Nil for a Config built in Go.
	src *sourceInfo
}

// SourceConfig is the MySQL/MariaDB primary cachesync replicates from.
type SourceConfig struct {
	Addr         string `yaml:"addr"`          // host:port; default 127.0.0.1:3306
	User         string `yaml:"user"`          // required
	Password     Secret `yaml:"password"`      // use ${VAR}; never logged
	PasswordFile string `yaml:"password_file"` // alternative to password
	Flavor       string `yaml:"flavor"`        // mysql | mariadb; default mysql
	ServerID     uint32 `yaml:"server_id"`     // replica id, unique among replicas; default 4201
	// GTID resumes by GTID set instead of file/position when true.
	GTID    bool   `yaml:"gtid"`
	Charset string `yaml:"charset"` // connection charset; default utf8mb4
	// ConnectTimeout bounds each connection attempt to the source, TCP
	// connect and MySQL handshake together: an address that accepts and never
	// answers fails the attempt after this long; default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// HeartbeatPeriod asks the primary for a heartbeat when idle; default 5s.
	HeartbeatPeriod Duration `yaml:"heartbeat_period"`
	// ReadTimeout declares a connection dead when nothing arrives for this
	// long; 0 means 1.5 × heartbeat_period (see StreamReadTimeout).
	ReadTimeout Duration `yaml:"read_timeout"`
	// LagWarning logs a warning when the replication lag (now minus the
	// commit time of the last event read) passes it, and a line when it is
	// back under half of it; default 30s, 0 turns it off.
	LagWarning Duration `yaml:"lag_warning"`
	// OnGap is what run does when the checkpoint's binlog is no longer on
	// the server: fail (default: exit with the ways out) or backfill (record
	// the current position, invalidate every key of every rule by scanning
	// the tables, then stream from the recorded position).
	OnGap string `yaml:"on_gap"`
	// OnStatementDML is what run does when the binlog holds a change of a
	// mapped table it cannot turn into keys: a statement (binlog_format
	// switched to STATEMENT or MIXED after start-up) or a row image without a
	// template or watch column (binlog_row_image MINIMAL or NOBLOB): fail
	// (default: exit before the checkpoint passes it, naming the table, the
	// position and the fix) or backfill (invalidate every key of the table by
	// scanning it, then stream on). Counted either way.
	OnStatementDML string `yaml:"on_statement_dml"`
	// OnSchemaDoubt is what run does when rows cannot have been written with
	// the table's schema as cachesync knows it (a DDL it has not read yet,
	// e.g. two ALTERs while it was stopped) and the binlog carries no column
	// names (binlog_row_metadata is not FULL): backfill (default: render no
	// key from those rows, invalidate every key of the table by scanning it,
	// stream on) or fail (exit before the checkpoint passes them).
	OnSchemaDoubt string `yaml:"on_schema_doubt"`
	// TimeZone renders TIMESTAMP columns in key templates as SELECT shows
	// them to the application: a zone name (Europe/Berlin), an offset
	// (+02:00) or UTC; empty (default): the server's @@time_zone, with
	// SYSTEM read as @@system_time_zone.
	TimeZone string `yaml:"time_zone"`
	// TLS to the source, for every connection cachesync makes to it (binlog,
	// queries, write-behind, backfill); off unless enabled or a key is set.
	TLS TLSConfig `yaml:"tls"`
}

// StreamReadTimeout is how long any connection to the source may wait for
// a byte before it is declared dead: read_timeout, or 1.5 × heartbeat_period
// when that is 0. An idle primary sends a heartbeat every period, so a
// frozen server or a half-open connection is found within two periods;
// 0 (no heartbeat, no read_timeout) waits forever.
func (s SourceConfig) StreamReadTimeout() time.Duration {
	if s.ReadTimeout > 0 {
		return s.ReadTimeout.D()
	}
	return s.HeartbeatPeriod.D() * 3 / 2
}

// DialTimeout is connect_timeout, or its default when 0 (a Config built in
// Go rather than loaded).
func (s SourceConfig) DialTimeout() time.Duration {
	if s.ConnectTimeout > 0 {
		return s.ConnectTimeout.D()
	}
	return Default().Source.ConnectTimeout.D()
}

// Warnings lists settings that are valid but unsafe, for whoever connects to
// log loudly at start-up; none for a safe config.
func (s SourceConfig) Warnings() []string {
	var w []string
	if s.TLS.InsecureSkipVerify {
		w = append(w, skipVerifyWarning("source.tls", "the MySQL server's", "the binlog, the MySQL password's exchange and write-behind rows"))
	}
	if s.StreamReadTimeout() == 0 {
		w = append(w, "source.heartbeat_period and source.read_timeout are both 0: a frozen primary or a half-open connection is never noticed, and cachesync waits on it silently; set heartbeat_period (default 5s)")
	}
	return w
}

// CheckpointConfig says where the last safe binlog position is kept.
type CheckpointConfig struct {
	Store string `yaml:"store"` // file (default) | redis
	Path  string `yaml:"path"`  // file store; default ./cachesync.pos
	Key   string `yaml:"key"`   // redis store; default cachesync:checkpoint
	// MinInterval spaces saves of already-acknowledged positions; default
	// 1s. A file save is two fsyncs, which stall the whole machine's disk
	// writes for milliseconds (BENCHMARKS.md, low-rate latency): at 10 a
	// second they were in the latency tail; a later save only means a
	// longer (harmless) replay after a crash.
	MinInterval Duration `yaml:"min_interval"`
	// Lease is the leader lease's time to live with store redis: instances
	// of one config share the checkpoint, the lease holder streams, and a
	// standby takes over within this long of the leader dying; default 10s.
	Lease Duration `yaml:"lease"`
}

// TransportConfig picks what sits between the tailer and the deleter.
type TransportConfig struct {
	Kind  string      `yaml:"kind"` // direct (default) | kafka
	Kafka KafkaConfig `yaml:"kafka"`
	// QueueSize bounds the queue in front of the Redis deleter, in batches:
	// the direct transport's, and with kafka each consumer's and the
	// bypass's; default 256.
	QueueSize int `yaml:"queue_size"`
}

// RedisConfig reaches the cache: one address is a single node, several are a
// cluster, master_name selects sentinel.
type RedisConfig struct {
	Addrs        []string `yaml:"addrs"` // default [127.0.0.1:6379]
	DB           int      `yaml:"db"`
	Username     string   `yaml:"username"`
	Password     Secret   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	MasterName   string   `yaml:"master_name"`
	// SentinelUsername and SentinelPassword (or SentinelPasswordFile) are
	// for sentinels that require a password themselves (requirepass in
	// sentinel.conf); the master's stays in Username/Password.
	SentinelUsername     string   `yaml:"sentinel_username"`
	SentinelPassword     Secret   `yaml:"sentinel_password"`
	SentinelPasswordFile string   `yaml:"sentinel_password_file"`
	PoolSize             int      `yaml:"pool_size"`    // default 16
	DialTimeout          Duration `yaml:"dial_timeout"` // default 2s
	ReadTimeout          Duration `yaml:"read_timeout"` // default 2s
	// TLS to every node (and sentinel); off unless enabled or a key is set.
	TLS TLSConfig `yaml:"tls"`
	// Mode: auto (addrs and master_name decide) or ring (client-side
	// sharding over Shards, placed as go-redis Ring or twemproxy do). Default auto.
	Mode         string            `yaml:"mode"`
	Shards       map[string]string `yaml:"shards"`        // ring: shard name → host:port
	ShardWeights map[string]int    `yaml:"shard_weights"` // ring_hash ketama: shard name → weight; default 1
	RingHash     string            `yaml:"ring_hash"`     // rendezvous (default, go-redis Ring's) or ketama
	// OnRestart is what a Redis whose run_id changed gets: warn (default)
	// or replay (re-send the invalidations of the last RestartLookback).
	OnRestart       string   `yaml:"on_restart"`
	RestartLookback Duration `yaml:"restart_lookback"` // default 10m
	RestartCheck    Duration `yaml:"restart_check"`    // how often run_id is read; default 10s, 0 off
}

// Warnings lists settings that are valid but unsafe, for whoever connects to
// log loudly at start-up; none for a safe config.
func (r RedisConfig) Warnings() []string {
	if r.TLS.InsecureSkipVerify {
		return []string{skipVerifyWarning("redis.tls", "the Redis servers'", "deletes, cached values and the Redis password")}
	}
	return nil
}

// DeleteConfig shapes the invalidation itself.
type DeleteConfig struct {
	// SecondDelay repeats each delete this much later; default 500ms, 0 turns it off.
	SecondDelay Duration `yaml:"second_delay"`
	// Command is unlink (default) or del.
	Command string `yaml:"command"`
	// BatchKeys caps the keys sent in one pipeline round trip; default 512.
	BatchKeys int `yaml:"batch_keys"`
	// ScanRate caps the keys a SCAN of on_truncate: scan or cascade scan
	// deletes per second, over all masters; default 5000, 0 means no cap.
	ScanRate int `yaml:"scan_rate"`
	// Second is when the second delete goes: fixed (default: second_delay
	// after the first) or replicas (as soon as every replica listed under
	// replicas: has applied the transaction; see README, "Read replicas").
	Second string `yaml:"second"`
	// ReplicaMaxWait bounds the wait of second: replicas: past it the
	// second delete goes anyway, with a warning naming the replica; default 30s.
	ReplicaMaxWait Duration `yaml:"replica_max_wait"`
	// SkipOldSecond (second: fixed only; default true) sends no second
	// delete for a change whose first delete came more than SecondSkipAge
	// after its commit: that first delete already is the late one (see
	// README, "Catching up").
	SkipOldSecond bool `yaml:"skip_old_second"`
}

// SecondSkipAge is how old (by its binlog commit time) a change must be
// when its first delete is done for its second delete to be skipped:
// second_delay, plus 1s because binlog timestamps are whole seconds, plus
// 1s for the difference between MySQL's clock and cachesync's. 0 when no
// second delete is skipped.
func (d DeleteConfig) SecondSkipAge() time.Duration {
	if !d.SkipOldSecond || d.WaitsForReplicas() || d.SecondDelay <= 0 {
		return 0
	}
	return d.SecondDelay.D() + 2*time.Second
}

// FirstDeletesInFlight is how many first-delete round trips one deleter
// keeps in flight: half the connection pool, at most 8, at least 1, so the
// second deletes, the checkpoint and the lease always find a connection.
// Eight let Redis work while the deleter encodes the next round trips
// (BENCHMARKS.md, issue 19: write-through catch-up of 5M rows 197k rows/s
// with two, 277k with eight).
func (r RedisConfig) FirstDeletesInFlight() int { return min(8, max(1, r.PoolSize/2)) }

// WaitsForReplicas reports whether the second delete waits for the replicas.
func (d DeleteConfig) WaitsForReplicas() bool { return d.Second == SecondReplicas }

// RetryConfig is the backoff for every retried operation.
type RetryConfig struct {
	Initial Duration `yaml:"initial"` // default 50ms
	Max     Duration `yaml:"max"`     // default 5s
}

// HTTPConfig is the metrics and health endpoint.
type HTTPConfig struct {
	Addr string `yaml:"addr"` // default 127.0.0.1:9180; "off" disables
	// Pprof serves Go's profiler on /debug/pprof/ at Addr; default false.
	// It exposes stacks and memory: keep Addr on loopback when it is on.
	Pprof bool `yaml:"pprof"`
	// StallAfter: /readyz fails when work has waited this long with none of
	// it finishing (Redis or Kafka down); default 30s.
	StallAfter Duration `yaml:"stall_after"`
}

// ShutdownConfig bounds a graceful stop.
type ShutdownConfig struct {
	// Timeout is how long run may take, after SIGTERM, to finish the work in
	// flight (deletes, Kafka acknowledgements) and save the checkpoint. Past
	// it run stops at once, saving nothing past what is done, and exits 1
	// naming what was stuck; default 30s.
	Timeout Duration `yaml:"timeout"`
}

// Rule maps one table (or a table pattern) to the cache keys its rows feed.
type Rule struct {
	Table string   `yaml:"table"` // db.table; * and ? allowed in the table part
	Keys  []string `yaml:"keys"`
	Watch []string `yaml:"watch"`
	// WriteBehind makes the cache the first writer of this table's rows;
	// see WriteBehindConfig. Left out, the rule is a plain invalidation rule.
	WriteBehind WriteBehindConfig `yaml:"write_behind"`
	// Observe says where the cached value carries the row's version, for
	// the consistency observer; see RuleObserve. Left out, not observed.
	Observe RuleObserve `yaml:"observe"`
	// Name lets other rules refer to this one (cascade); optional, unique.
	Name string `yaml:"name"`
	// OnTruncate is what a TRUNCATE of the rule's table does, whose rows are
	// not in the binlog: warn (an error-level log and a metric; the keys
	// stay) or scan (SCAN MATCH each template's pattern on every master and
	// delete what matches, before the checkpoint passes the TRUNCATE).
	// Empty means DefaultOnTruncate.
	OnTruncate string `yaml:"on_truncate"`
	// Cascade names the rules of child tables whose rows ON DELETE CASCADE
	// removes with a row of this table (not in the binlog either).
	Cascade []CascadeConfig `yaml:"cascade"`
	// Write-through (writethrough.go): action delete (DefaultAction) or set;
	// with set, set_keys (default: every key) get value, ttl, ttl_jitter.
	Action     string      `yaml:"action"`
	SetKeyList []string    `yaml:"set_keys"`
	Value      ValueConfig `yaml:"value"`
	TTL        Duration    `yaml:"ttl"`
	TTLJitter  Duration    `yaml:"ttl_jitter"`

	// Filled by Load/Validate.
	Line      int         `yaml:"-"`
	Templates []*Template `yaml:"-"`
	DB        string      `yaml:"-"`
	TableGlob string      `yaml:"-"`
	// CascadeTemplates are the cascade keys templates, over this rule's
	// (the parent's) columns, rendered for each deleted row.
	CascadeTemplates []*Template `yaml:"-"`
	// CascadeScans are the SCAN MATCH patterns of the cascade entries with
	// scan: true (the child rules' templates), scanned once per transaction
	// that deletes a row of this table.
	CascadeScans []string `yaml:"-"`
	SetKeys      []int    `yaml:"-"` // indexes into Templates of the keys a set rule writes
}

// Default returns a Config holding every default. Load decodes the file over
// it, so a value written explicitly (second_delay: 0) wins over the default.
func Default() Config {
	return Config{
		Source: SourceConfig{
			Addr:            "127.0.0.1:3306",
			Flavor:          "mysql",
			ServerID:        4201,
			Charset:         "utf8mb4",
			HeartbeatPeriod: Duration(5 * time.Second),
			ConnectTimeout:  Duration(5 * time.Second),
			OnGap:           "fail",
			OnStatementDML:  "fail",
			OnSchemaDoubt:   "backfill",
			LagWarning:      Duration(30 * time.Second),
		},
		Checkpoint: CheckpointConfig{
			Store:       "file",
			Path:        "./cachesync.pos",
			Key:         "cachesync:checkpoint",
			MinInterval: Duration(time.Second),
			Lease:       Duration(10 * time.Second),
		},
		Transport: TransportConfig{
			Kind:      "direct",
			QueueSize: 256,
			Kafka: KafkaConfig{
				ClientID:            "cachesync",
				ConnectTimeout:      Duration(5 * time.Second),
				Message:             "row",
				BatchTimeout:        Duration(time.Millisecond),
				BatchSize:           1000,
				MaxMessageBytes:     1 << 20,
				CommitInterval:      Duration(200 * time.Millisecond),
				MaxInFlight:         8000,
				ConsumerMaxInFlight: 200000,
			},
		},
		Redis: RedisConfig{
			Addrs:       []string{"127.0.0.1:6379"},
			PoolSize:    16,
			DialTimeout: Duration(2 * time.Second),
			ReadTimeout: Duration(2 * time.Second),
			Mode:        "auto",
			RingHash:    "rendezvous",
			OnRestart:   "warn",
			// A restart from an RDB older than this is not fully covered by replay.
			RestartLookback: Duration(10 * time.Minute),
			RestartCheck:    Duration(10 * time.Second),
		},
		Delete: DeleteConfig{
			SecondDelay:    Duration(500 * time.Millisecond),
			SkipOldSecond:  true,
			Command:        "unlink",
			BatchKeys:      512,
			ScanRate:       5000,
			Second:         SecondFixed,
			ReplicaMaxWait: Duration(30 * time.Second),
		},
		Retry:    RetryConfig{Initial: Duration(50 * time.Millisecond), Max: Duration(5 * time.Second)},
		HTTP:     HTTPConfig{Addr: "127.0.0.1:9180", StallAfter: Duration(30 * time.Second)},
		Shutdown: ShutdownConfig{Timeout: Duration(30 * time.Second)},
		Observe: ObserveConfig{
			Sample:  0.01,
			Windows: []Duration{Duration(time.Second), Duration(10 * time.Second), Duration(time.Minute)},
			Queue:   10000,
			Rate:    200,
		},
	}
}

// Backoff is the retry policy the retry section describes, with no bound
// on the time spent: callers that need one set MaxElapsed on the copy.
func (r RetryConfig) Backoff() retry.Backoff {
	return retry.Backoff{Initial: r.Initial.D(), Max: r.Max.D()}
}
