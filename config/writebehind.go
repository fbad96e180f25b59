package config

import (
	"strings"
	"time"
)

// WriteBehindConfig turns a rule into a write-behind rule: the application
// writes the cache first (with the writebehind package's scripts, which also
// append the write to Stream) and the flusher persists those writes to the
// rule's table in batches. The zero value means "not write-behind"; each
// default lives in one accessor.
type WriteBehindConfig struct {
	// Stream is the Redis stream the application's writes are queued on;
	// required, and one stream per rule.
	Stream string `yaml:"stream"`
	// Keys are the rule's key templates the cache owns: for a row the
	// flusher inserts or updates, their keys get the guarded delete, which
	// keeps a key holding exactly the value the write-behind scripts wrote
	// (stamped) and deletes anything else. Each must be one of the rule's
	// keys and name only primary key columns (checked against the live
	// schema at start); the rule's other keys (lists, aggregates) are
	// invalidated as usual.
	Keys []string `yaml:"keys"`
	// Batch caps the stream entries applied in one MySQL transaction; default 500.
	Batch int `yaml:"batch"`
	// Interval is the longest a batch waits to fill up; default 100ms.
	Interval Duration `yaml:"interval"`

	// Owned holds the indexes into the rule's Templates of Keys; filled by Validate.
	Owned []int `yaml:"-"`
}

// Enabled reports whether the rule is a write-behind rule.
func (w *WriteBehindConfig) Enabled() bool { return w.Stream != "" }

// BatchSize is Batch or its default, 500.
func (w *WriteBehindConfig) BatchSize() int {
	if w.Batch <= 0 {
		return 500
	}
	return w.Batch
}

// FlushInterval is Interval or its default, 100ms.
func (w *WriteBehindConfig) FlushInterval() time.Duration {
	if w.Interval <= 0 {
		return 100 * time.Millisecond
	}
	return w.Interval.D()
}

// maxWriteBehindBatch keeps one batch's transaction and statements well
// below MySQL's placeholder limit (65,535) for tables of a few columns.
const maxWriteBehindBatch = 10000

// WriteBehindRules returns the rules with write_behind, in file order.
func (c *Config) WriteBehindRules() []*Rule {
	var out []*Rule
	for i := range c.Rules {
		if c.Rules[i].WriteBehind.Enabled() {
			out = append(out, &c.Rules[i])
		}
	}
	return out
}

func (k *checker) checkWriteBehind(r *Rule, path string) {
	w := &r.WriteBehind
	w.Owned = nil
	if !k.written(path) && w.Stream == "" && len(w.Keys) == 0 && w.Batch == 0 && w.Interval == 0 {
		return // not a write-behind rule
	}
	switch {
	case w.Stream == "":
		k.addf(path+".stream", "is required with write_behind: the Redis stream the application's writes are queued on, such as cachesync:wb:users")
	case strings.TrimSpace(w.Stream) != w.Stream:
		k.addf(path+".stream", "has leading or trailing spaces: write the stream's key exactly, got %s", k.show(path+".stream", w.Stream))
	}
	k.checkOwnedKeys(r, path+".keys")
	if k.written(path+".batch") && (w.Batch < 1 || w.Batch > maxWriteBehindBatch) {
		k.addf(path+".batch", "must be from 1 to %d (default 500), got %s", maxWriteBehindBatch, k.showInt(path+".batch", w.Batch))
	}
	if k.written(path+".interval") && w.Interval <= 0 || w.Interval < 0 {
		k.addf(path+".interval", "must be above 0, such as 100ms, got %s", k.show(path+".interval", w.Interval.String()))
	}
}

// checkOwnedKeys matches each owned key against the rule's templates by what
// they render, so "user:{ID}" owns "user:{id}".
func (k *checker) checkOwnedKeys(r *Rule, path string) {
	w := &r.WriteBehind
	if len(w.Keys) == 0 {
		k.addf(path, "needs at least one of the rule's keys that the cache owns (the keys the application writes with the write-behind scripts), such as [%q]", firstKey(r))
		return
	}
	w.Owned = k.subsetOfKeys(r, path, w.Keys, "keys",
		"the cache can only own keys the rule invalidates (rule keys: %s)")
}

// subsetOfKeys resolves raws, a list of some of r's key templates (under
// path, named listName in messages), to their indexes in r.Templates by
// what they render, so "user:{ID}" is "user:{id}"; one not in the rule, or
// named twice, is a problem (notInRule gets the rule's keys).
func (k *checker) subsetOfKeys(r *Rule, path string, raws []string, listName, notInRule string) []int {
	var out []int
	seen := map[int]int{}
	k.templates(path, raws, func(j int, p string, t *Template) {
		idx := -1
		for i, rt := range r.Templates {
			if rt.syntax(true) == t.syntax(true) {
				idx = i
			}
		}
		if idx < 0 {
			k.addf(p, "%s is not one of the rule's keys: "+notInRule, k.show(p, t.Raw), strings.Join(r.Keys, ", "))
			return
		}
		if prev, dup := seen[idx]; dup {
			k.addf(p, "names the same key as %s[%d]: remove one", listName, prev)
			return
		}
		seen[idx] = j
		out = append(out, idx)
	})
	return out
}

func firstKey(r *Rule) string {
	if len(r.Keys) > 0 {
		return r.Keys[0]
	}
	return "user:{id}"
}

// checkStreamsUnique refuses two rules on one stream: the flusher's
// exactly-once bookkeeping (one last-applied ID per stream) and the echo
// guarding both name a stream's one rule.
func (k *checker) checkStreamsUnique(rules []Rule) {
	first := map[string]int{}
	for i := range rules {
		s := rules[i].WriteBehind.Stream
		if s == "" {
			continue
		}
		if prev, dup := first[s]; dup {
			p := indexPath("rules", i) + ".write_behind.stream"
			k.addf(p, "stream %s is already used by rules[%d]: give each write-behind rule its own stream", k.show(p, s), prev)
			continue
		}
		first[s] = i
	}
}
