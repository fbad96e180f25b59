package config

import (
	"strings"
	"time"
)

// Rule actions: what a change of a row does to the rule's keys. A rule with
// action: set writes the row's Value into the keys of SetKeyList (each one
// of Keys; left out, every key) and invalidates its other keys; TTL (0: no
// expiry) plus up to TTLJitter, drawn per key, is the expiry of a written
// key. Validate fills SetKeys with the indexes of the written templates.
const (
	// ActionDelete invalidates every key (cache-aside); a rule's default.
	ActionDelete = "delete"
	// ActionSet writes the row's value into the set keys (write-through)
	// and invalidates the rule's other keys.
	ActionSet = "set"
)

// DefaultAction is a rule's action when it names none.
const DefaultAction = ActionDelete

// ValueConfig says what a set rule stores under its keys: exactly one of
// JSON (a JSON object of the columns, as a Redis string) or Hash (a Redis
// hash, one field per column). Columns render by the one mapping in keys/.
type ValueConfig struct {
	JSON []string `yaml:"json"`
	Hash []string `yaml:"hash"`
}

// Columns are the value's columns, whichever form it takes.
func (v *ValueConfig) Columns() []string {
	if len(v.JSON) > 0 {
		return v.JSON
	}
	return v.Hash
}

// IsHash reports whether the value is stored as a Redis hash.
func (v *ValueConfig) IsHash() bool { return len(v.Hash) > 0 }

// RuleAction is action, or DefaultAction when empty.
func (r *Rule) RuleAction() string {
	if r.Action == "" {
		return DefaultAction
	}
	return r.Action
}

// Sets reports whether the rule writes values (action: set).
func (r *Rule) Sets() bool { return r.Action == ActionSet }

// ExpireIn is the TTL to give a key the rule sets: ttl plus a uniformly
// drawn share of ttl_jitter (u in [0,1), drawn by the caller), or 0 for no TTL.
func (r *Rule) ExpireIn(u float64) time.Duration {
	if r.TTL <= 0 {
		return 0
	}
	return r.TTL.D() + time.Duration(u*float64(r.TTLJitter.D()))
}

func (k *checker) checkAction(r *Rule, path string) {
	r.SetKeys = nil
	if r.Action != "" {
		k.oneOf(path+".action", r.Action, ActionDelete, ActionSet)
	}
	if !r.Sets() {
		for _, f := range []string{"value", "set_keys", "ttl", "ttl_jitter"} {
			if k.written(path+"."+f) || (f == "set_keys" && len(r.SetKeyList) > 0) {
				k.addf(path+"."+f, "applies only with action: set, which writes the row into the keys; remove it or add action: set")
			}
		}
		return
	}
	if r.WriteBehind.Enabled() {
		k.addf(path+".action", "set cannot go with write_behind: in a write-behind rule the application writes the keys; choose one")
	}
	if len(r.Watch) > 0 {
		k.addf(path+".watch", "cannot go with action: set: an UPDATE of a value column the list leaves out would keep the old value cached; remove watch")
	}
	k.checkValue(&r.Value, path+".value")
	k.notNegative(path+".ttl", r.TTL, "no expiry")
	k.notNegative(path+".ttl_jitter", r.TTLJitter, "no jitter")
	if r.TTLJitter > 0 && r.TTL <= 0 {
		k.addf(path+".ttl_jitter", "needs a ttl to add to: set ttl, such as 1h, or remove ttl_jitter")
	}
	k.checkSetKeys(r, path+".set_keys")
}

func (k *checker) checkValue(v *ValueConfig, path string) {
	switch {
	case len(v.JSON) == 0 && len(v.Hash) == 0:
		k.addf(path, "is required with action: set: the columns to store, as {json: [id, name]} (a JSON string) or {hash: [id, name]} (a Redis hash)")
		return
	case len(v.JSON) > 0 && len(v.Hash) > 0:
		k.addf(path, "sets both json and hash: a key holds one or the other, choose one")
		return
	}
	p := path + ".json"
	if v.IsHash() {
		p = path + ".hash"
	}
	first := map[string]int{}
	for j, c := range v.Columns() {
		cp := indexPath(p, j)
		if why := checkIdentifier(c); why != "" {
			k.addf(cp, "column name %s %s", k.show(cp, c), why)
			continue
		}
		low := strings.ToLower(c) // MySQL column names are case-insensitive
		if prev, dup := first[low]; dup {
			k.addf(cp, "repeats [%d]: remove one", prev)
			continue
		}
		first[low] = j
	}
}

// checkSetKeys resolves set_keys against the rule's keys by what they
// render; left out, the rule sets every one of its keys.
func (k *checker) checkSetKeys(r *Rule, path string) {
	if len(r.SetKeyList) == 0 {
		for i := range r.Templates {
			r.SetKeys = append(r.SetKeys, i)
		}
		return
	}
	r.SetKeys = k.subsetOfKeys(r, path, r.SetKeyList, "set_keys",
		"list it in keys too (keys not in set_keys are invalidated), rule keys: %s")
}
