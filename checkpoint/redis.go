package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
)

// ErrNotLeader means this process no longer holds the leader lease, so it
// must not move the shared checkpoint: another instance has taken over.
var ErrNotLeader = errors.New("this instance no longer holds the leader lease")

// Keys names the Redis keys of one shared checkpoint. They share a hash tag,
// so the compare-and-set scripts work on a Redis Cluster too.
type Keys struct {
	Checkpoint, Lease, Token string
}

// KeysFor derives the keys from checkpoint.key: the key itself when it
// already holds a {hash tag}, else the whole key becomes the tag.
func KeysFor(key string) Keys {
	tagged := key
	if !strings.Contains(key, "{") {
		tagged = "{" + key + "}"
	}
	return Keys{Checkpoint: tagged, Lease: tagged + ":lease", Token: tagged + ":token"}
}

// Lease is leadership among instances that share one checkpoint: SET NX PX
// with a fencing token from INCR, renewed while held. Only the holder
// streams the binlog and saves the checkpoint; the others wait.
type Lease struct {
	rdb   redis.UniversalClient
	keys  Keys
	ttl   time.Duration
	owner string

	mu    sync.Mutex
	token int64 // 0: not held
}

// NewLease returns a lease on keys with time-to-live ttl, not yet held.
func NewLease(rdb redis.UniversalClient, keys Keys, ttl time.Duration) *Lease {
	host, _ := os.Hostname()
	var r [6]byte
	_, _ = rand.Read(r[:])
	return &Lease{rdb: rdb, keys: keys, ttl: ttl, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))}
}

var acquireScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t .. ':' .. ARGV[1], 'PX', ARGV[2])
return t`)

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// value is what the lease key holds while this process has it.
func (l *Lease) value(token int64) string { return strconv.FormatInt(token, 10) + ":" + l.owner }

// TryAcquire takes the lease if nobody holds it, with a new fencing token.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	t, err := acquireScript.Run(ctx, l.rdb, []string{l.keys.Lease, l.keys.Token}, l.owner, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("leader lease %s: %w", l.keys.Lease, err)
	}
	l.mu.Lock()
	l.token = t
	l.mu.Unlock()
	return t > 0, nil
}

// Renew extends the lease; false means it was lost (expired and maybe taken).
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	t := l.Token()
	if t == 0 {
		return false, nil
	}
	n, err := renewScript.Run(ctx, l.rdb, []string{l.keys.Lease}, l.value(t), l.ttl.Milliseconds()).Int64()
	if err != nil {
		return true, fmt.Errorf("renew leader lease %s: %w", l.keys.Lease, err) // unknown: not lost yet
	}
	if n == 0 {
		l.mu.Lock()
		l.token = 0
		l.mu.Unlock()
		return false, nil
	}
	return true, nil
}

// Release gives the lease up (a graceful stop), so a standby need not wait
// for it to expire.
func (l *Lease) Release(ctx context.Context) error {
	t := l.Token()
	if t == 0 {
		return nil
	}
	l.mu.Lock()
	l.token = 0
	l.mu.Unlock()
	return releaseScript.Run(ctx, l.rdb, []string{l.keys.Lease}, l.value(t)).Err()
}

// Token is the fencing token while held, else 0.
func (l *Lease) Token() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// TTL is the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

// RedisStore keeps the checkpoint in Redis, shared by the instances of one
// config. Save is a compare-and-set on the lease: it writes only while this
// process holds the lease with its fencing token, so an old leader that was
// paused past its lease can never move the checkpoint.
type RedisStore struct {
	RDB   redis.UniversalClient
	Keys  Keys
	Lease *Lease
	Now   func() time.Time // default time.Now
}

type redisRecord struct {
	fileRecord
	Token int64 `json:"token"` // the fencing token of the leader that saved it
}

var saveScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`)

// Load implements Store.
func (s *RedisStore) Load(ctx context.Context) (event.Position, bool, error) {
	data, err := s.RDB.Get(ctx, s.Keys.Checkpoint).Bytes() // see String
	if errors.Is(err, redis.Nil) {
		return event.Position{}, false, nil
	}
	if err != nil {
		return event.Position{}, false, fmt.Errorf("%s cannot be read: %w", s, err)
	}
	var r redisRecord
	if err := json.Unmarshal(data, &r); err != nil || r.Version != 1 || (r.File == "" && r.GTID == "") {
		return event.Position{}, false, fmt.Errorf("%s holds no usable position (%.200q): %s", s, data, damagedFix)
	}
	return event.Position{File: r.File, Pos: r.Pos, GTID: r.GTID}, true, nil
}

// String names the checkpoint in messages.
func (s *RedisStore) String() string { return "checkpoint key " + s.Keys.Checkpoint + " in Redis" }

// Save implements Store; ErrNotLeader when the lease is not ours.
func (s *RedisStore) Save(ctx context.Context, pos event.Position) error {
	t := s.Lease.Token()
	if t == 0 {
		return fmt.Errorf("save checkpoint %s at %s: %w", s.Keys.Checkpoint, pos, ErrNotLeader)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	data, err := json.Marshal(redisRecord{fileRecord{Version: 1, File: pos.File, Pos: pos.Pos, GTID: pos.GTID,
		SavedAt: now().UTC().Format(time.RFC3339Nano)}, t})
	if err != nil {
		return err
	}
	n, err := saveScript.Run(ctx, s.RDB, []string{s.Keys.Checkpoint, s.Keys.Lease}, s.Lease.value(t), data).Int64()
	if err != nil {
		return fmt.Errorf("save checkpoint %s at %s: %w", s.Keys.Checkpoint, pos, err)
	}
	if n == 0 {
		return fmt.Errorf("save checkpoint %s at %s with fencing token %d: %w", s.Keys.Checkpoint, pos, t, ErrNotLeader)
	}
	return nil
}

// Blob is the key name beside the shared checkpoint (same hash tag), for
// state the tailer keeps with it (schema history, XA keys); see RedisBlob.
func (s *RedisStore) Blob(name string) *RedisBlob {
	return &RedisBlob{s: s, key: s.Keys.Checkpoint + ":" + name}
}

// RedisBlob is bytes beside the shared checkpoint, written under the same
// fencing as Save: only the current leader (a Blob).
type RedisBlob struct {
	s   *RedisStore
	key string
}

// String names the key, for errors.
func (b *RedisBlob) String() string { return "redis key " + b.key }

// Load returns nil, nil when nothing was saved.
func (b *RedisBlob) Load(ctx context.Context) ([]byte, error) {
	data, err := b.s.RDB.Get(ctx, b.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return data, err
}

// Save writes while this process holds the lease with its token.
func (b *RedisBlob) Save(ctx context.Context, data []byte) error {
	if b.s.Lease == nil {
		return ErrNotLeader // a reader (replay) never writes
	}
	t := b.s.Lease.Token()
	if t == 0 {
		return ErrNotLeader
	}
	n, err := saveScript.Run(ctx, b.s.RDB, []string{b.key, b.s.Keys.Lease}, b.s.Lease.value(t), data).Int64()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("with fencing token %d: %w", t, ErrNotLeader)
	}
	return nil
}
