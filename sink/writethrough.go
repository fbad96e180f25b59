package sink

import (
	"context"
	_ "embed"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/event"
)

// Write-through (rules with action: set). The event.Sets of a batch run
// scripts/writethrough.lua on their keys and the keys' version keys, up to
// setsPerCall keys a call, in the same round trip as the batch's deletes
// and after them, in both the first and the second pass: the second
// catches a reader that refilled the key with the row it read before the
// change committed (the script rewrites an equal version).

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

// scriptArgs appends the ARGV of one script call writing sets (see the
// script): the short form when every one is a JSON value ('J', then per
// pair the version, expiry and value), the general form otherwise.
func scriptArgs(args []any, sets []*event.Set) []any {
	short := true
	for _, s := range sets {
		if s.Delete || s.Fields != nil {
			short = false
			break
		}
	}
	if short {
		args = append(args, "J")
		for _, s := range sets {
			args = append(args, s.Version.String(), strconv.FormatInt(s.TTL.Milliseconds(), 10), s.JSON)
		}
		return args
	}
	for _, s := range sets {
		args = appendSetArgs(args, s)
	}
	return args
}

// appendSetArgs appends s's ARGV in the script's general form.
func appendSetArgs(args []any, s *event.Set) []any {
	mode := "del"
	switch {
	case s.Delete:
	case s.Fields != nil:
		mode = "hash"
	default:
		mode = "json"
	}
	args = append(args, s.Version.String(), mode, strconv.FormatInt(s.TTL.Milliseconds(), 10))
	switch mode {
	case "json":
		args = append(args, "1", s.JSON)
	case "hash":
		args = append(args, strconv.Itoa(len(s.Fields)))
		for _, f := range s.Fields {
			args = append(args, f)
		}
	default:
		args = append(args, "0")
	}
	return args
}

// setsPerCall bounds the keys one script call writes on a single node: a
// script blocks Redis while it runs, about 3.5 us per key here for JSON
// values (BENCHMARKS.md, issue 19), so a call holds it ~0.2 ms.
const setsPerCall = 64

// queueSets adds the write-through script calls for the sets of g to pipe,
// in order, up to setsPerCall keys a call (one where the client routes each
// key: a cluster or a ring); a key with no possible version key is
// unlinked instead.
func (d *Deleter) queueSets(ctx context.Context, pipe redis.Pipeliner, g group) []*redis.Cmd {
	per := setsPerCall
	if perKeyRouted(d.rdb) {
		per = 1
	}
	var cmds []*redis.Cmd
	// EvalSha copies keys and args into its command, so they are reused.
	keys := make([]string, 0, 2*per)
	args := make([]any, 0, 1+5*per)
	sets := make([]*event.Set, 0, per)
	flush := func() {
		if len(sets) > 0 {
			args = scriptArgs(args[:0], sets)
			cmds = append(cmds, d.wt.EvalSha(ctx, pipe, keys, args...))
			keys, sets = keys[:0], sets[:0]
		}
	}
	for _, b := range g.batches {
		for i := range b.Sets {
			s := &b.Sets[i]
			vk, ok := VersionKey(s.Key)
			if !ok {
				flush() // keeps the order of writes to one key
				pipe.Do(ctx, d.command(), s.Key)
				continue
			}
			keys = append(keys, s.Key, vk)
			sets = append(sets, s)
			if len(sets) == per {
				flush()
			}
		}
	}
	flush()
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
		stale += n
	}
	return stale, nil
}
