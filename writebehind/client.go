// Package writebehind is the application side of cachesync's write-behind:
// Lua scripts that write the cache AND queue the row write on the rule's
// Redis stream in one atomic step, and a small Go client for them; and the
// offsets table, the contract between the flusher and the binlog tailer.
// The flusher (package writebehind/flusher) reads the stream and applies the
// writes to MySQL.
//
// Applications in other languages call the same scripts with EVALSHA; their
// KEYS and ARGV are documented at the top of each script (scripts/*.lua) and
// in the README ("Write-behind").
package writebehind

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/set.lua
var setSource string

//go:embed scripts/delete.lua
var deleteSource string

//go:embed scripts/incrby.lua
var incrSource string

// SetScript, DeleteScript and IncrByScript return the Lua sources, for
// applications that SCRIPT LOAD them into Redis and call them with EVALSHA.
func SetScript() string    { return setSource }
func DeleteScript() string { return deleteSource }
func IncrByScript() string { return incrSource }

// ErrNotCached means IncrBy found no value at the key: the script cannot
// know the base value, so the application must load it from MySQL first.
var ErrNotCached = errors.New("key is not cached")

// Row names the row a cache write stands for.
type Row struct {
	Table string         // db.table, one the rule of the stream matches
	PK    map[string]any // every primary key column → value
}

// Client writes the cache and queues the row writes on one stream (a rule's
// write_behind.stream). Values in PK and columns are encoded as JSON:
// numbers, strings, booleans and nil (NULL); anything else is written as its
// JSON text (for JSON columns). Write times as "2006-01-02 15:04:05" strings.
type Client struct {
	rdb    redis.Scripter
	stream string
	set    *redis.Script
	del    *redis.Script
	incr   *redis.Script
}

// New returns a client for stream.
func New(rdb redis.Scripter, stream string) *Client {
	return &Client{rdb: rdb, stream: stream,
		set: redis.NewScript(setSource), del: redis.NewScript(deleteSource), incr: redis.NewScript(incrSource)}
}

// Stream is the stream the client queues on.
func (c *Client) Stream() string { return c.stream }

// Set caches value at key (ttl 0: no expiry), stamps it (see StampKey) and
// queues an upsert of cols into the row. It returns the stream entry ID.
func (c *Client) Set(ctx context.Context, key, value string, ttl time.Duration, row Row, cols map[string]any) (string, error) {
	pk, err := encodeRow(row)
	if err != nil {
		return "", fmt.Errorf("writebehind set %s: %w", key, err)
	}
	colsJSON, err := json.Marshal(orEmpty(cols))
	if err != nil {
		return "", fmt.Errorf("writebehind set %s: columns of %s: %w", key, row.Table, err)
	}
	id, err := c.set.Run(ctx, c.rdb, []string{key, c.stream, StampKey(key)}, value, ttl.Milliseconds(), row.Table, pk, string(colsJSON)).Text()
	if err != nil {
		return "", fmt.Errorf("writebehind set %s (stream %s): %w", key, c.stream, err)
	}
	return id, nil
}

// Delete removes key and its stamp from the cache and queues the row's deletion.
func (c *Client) Delete(ctx context.Context, key string, row Row) (string, error) {
	pk, err := encodeRow(row)
	if err != nil {
		return "", fmt.Errorf("writebehind delete %s: %w", key, err)
	}
	id, err := c.del.Run(ctx, c.rdb, []string{key, c.stream, StampKey(key)}, row.Table, pk).Text()
	if err != nil {
		return "", fmt.Errorf("writebehind delete %s (stream %s): %w", key, c.stream, err)
	}
	return id, nil
}

// IncrResult is what IncrBy did.
type IncrResult struct {
	Applied bool   // false: the floor refused the change; nothing was written
	Value   int64  // the value after the change, or the unchanged value when refused
	ID      string // the stream entry ID when applied
}

// IncrBy adds delta to the integer cached at key unless the result would be
// below floor, and queues the new value as column of the row. A flash sale
// calls IncrBy(key, -1, 0, ...): it never oversells.
func (c *Client) IncrBy(ctx context.Context, key string, delta, floor int64, row Row, column string) (IncrResult, error) {
	pk, err := encodeRow(row)
	if err != nil {
		return IncrResult{}, fmt.Errorf("writebehind incrby %s: %w", key, err)
	}
	res, err := c.incr.Run(ctx, c.rdb, []string{key, c.stream, StampKey(key)}, delta, floor, row.Table, pk, column).Slice()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOKEY") {
			return IncrResult{}, fmt.Errorf("writebehind incrby %s: %w: load it from MySQL first", key, ErrNotCached)
		}
		return IncrResult{}, fmt.Errorf("writebehind incrby %s (stream %s): %w", key, c.stream, err)
	}
	return parseIncr(key, res)
}

func parseIncr(key string, res []any) (IncrResult, error) {
	if len(res) < 2 {
		return IncrResult{}, fmt.Errorf("writebehind incrby %s: unexpected reply %v", key, res)
	}
	applied, _ := res[0].(int64)
	text, _ := res[1].(string)
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return IncrResult{}, fmt.Errorf("writebehind incrby %s: value %q: %w", key, text, err)
	}
	r := IncrResult{Applied: applied == 1, Value: v}
	if r.Applied && len(res) > 2 {
		r.ID, _ = res[2].(string)
	}
	return r, nil
}

func encodeRow(row Row) (string, error) {
	if row.Table == "" || !strings.Contains(row.Table, ".") {
		return "", fmt.Errorf("row table %q: want db.table", row.Table)
	}
	if len(row.PK) == 0 {
		return "", fmt.Errorf("row of %s has no primary key values", row.Table)
	}
	b, err := json.Marshal(row.PK)
	if err != nil {
		return "", fmt.Errorf("primary key of %s: %w", row.Table, err)
	}
	return string(b), nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
