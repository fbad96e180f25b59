package sink

import (
	"context"
	_ "embed"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
)

// Write-through (rules with action: set). Each event.Set of a batch runs
// scripts/writethrough.lua on its key and the key's version key, in the
// same round trip as the batch's deletes and after them, in both the first
// and the second pass: the second catches a reader that refilled the key
// with the row it read before the change committed (the script rewrites
// an equal version).

//go:embed scripts/writethrough.lua
var writeThroughSource string

// WriteThroughScript is the Lua source of the write-through write, for
// other transports' consumers and for documentation.
func WriteThroughScript() string { return writeThroughSource }

// VersionSuffix names a key's version key.
const VersionSuffix = "#cachesync-v"

// VersionKey is the key holding key's binlog version, in the same Redis
// Cluster slot: a key with a hash tag keeps it when the suffix is
// appended; a key without one is wrapped whole in a tag, which hashes to
// the key's own slot. ok is false for a key with braces but no tag (such
// as "a{}b"), whose slot no other key can share: it is invalidated instead.
func VersionKey(key string) (string, bool) {
	switch {
	case hashTagged(key):
		return key + VersionSuffix, true
	case strings.ContainsAny(key, "{}"):
		return "", false
	}
	return "{" + key + "}" + VersionSuffix, true
}

// setArgs are the script's ARGV for s.
func setArgs(s *event.Set) []any {
	mode := "del"
	switch {
	case s.Delete:
	case s.Fields != nil:
		mode = "hash"
	default:
		mode = "json"
	}
	args := make([]any, 0, 3+max(1, len(s.Fields)))
	args = append(args, s.Version.String(), mode, strconv.FormatInt(s.TTL.Milliseconds(), 10))
	switch mode {
	case "json":
		args = append(args, s.JSON)
	case "hash":
		for _, f := range s.Fields {
			args = append(args, f)
		}
	}
	return args
}

// queueSets adds one write-through script call per set of g to pipe; a key
// with no possible version key is unlinked instead.
func (d *Deleter) queueSets(ctx context.Context, pipe redis.Pipeliner, g group) []*redis.Cmd {
	var cmds []*redis.Cmd
	for _, b := range g.batches {
		for i := range b.Sets {
			s := &b.Sets[i]
			vk, ok := VersionKey(s.Key)
			if !ok {
				pipe.Do(ctx, d.command(), s.Key)
				continue
			}
			cmds = append(cmds, d.wt.EvalSha(ctx, pipe, []string{s.Key, vk}, setArgs(s)...))
		}
	}
	return cmds
}

func hasSets(g group) bool {
	for _, b := range g.batches {
		if len(b.Sets) > 0 {
			return true
		}
	}
	return false
}

// loadWriteThrough loads the script on every master or shard.
func (d *Deleter) loadWriteThrough(ctx context.Context) error {
	var err error
	if _, ring := d.rdb.(*redis.Ring); ring {
		err = eachNode(ctx, d.rdb, func(ctx context.Context, n Node) error { return d.wt.Load(ctx, n.Client).Err() })
	} else {
		err = d.wt.Load(ctx, d.rdb).Err()
	}
	if err == nil {
		d.wtLoaded.Store(true)
	}
	return err
}

// setsResult reads the script results of a round trip that ended with err:
// a NOSCRIPT first (deleteOnce reloads), then err, then how many sets a
// newer version refused.
func setsResult(cmds []*redis.Cmd, err error) (stale int, _ error) {
	for _, cmd := range cmds {
		if e := cmd.Err(); redis.HasErrorPrefix(e, "NOSCRIPT") {
			return 0, e
		}
	}
	if err != nil {
		return 0, err
	}
	for _, cmd := range cmds {
		n, err := cmd.Int()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			stale++
		}
	}
	return stale, nil
}
