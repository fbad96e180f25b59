package config

import (
	"fmt"
	"strings"
	"time"
)

// ObserveConfig is the consistency observer's global settings: which share
// of row changes it checks, at which delays, and how hard it may read.
type ObserveConfig struct {
	// Sample is the fraction of row changes of observed rules checked, in
	// (0, 1]; default 0.01.
	Sample float64 `yaml:"sample"`
	// Windows are the delays after the commit at which each sampled change's
	// keys are read; default 1s, 10s, 60s. The last one is where a stale
	// value is confirmed against the database.
	Windows []Duration `yaml:"windows"`
	// Queue bounds the sampled changes waiting for their windows; a sample
	// arriving when it is full is dropped and counted; default 10000.
	Queue int `yaml:"queue"`
	// Rate caps the cache reads per second the observer makes; default 200.
	Rate int `yaml:"rate"`
}

// RuleObserve says where a rule's cached value carries the row's version,
// so the observer can tell an old value from a new one. Empty: the rule is
// not observed.
type RuleObserve struct {
	// Column is the row's version column (an integer that grows with every
	// change), required to observe the rule.
	Column string `yaml:"column"`
	// Field is the version in a JSON value: "$.version" or a dotted path
	// "$.meta.version" ($. may be left out).
	Field string `yaml:"field"`
	// HashField is the version's field in a Redis hash.
	HashField string `yaml:"hash_field"`
	// Stamp "cacheaside": the value was filled by the cacheaside client with
	// Config.Version set, which stores the version beside the value.
	Stamp string `yaml:"stamp"`
}

// StampCacheaside is the only Stamp value.
const StampCacheaside = "cacheaside"

// Enabled reports whether the rule is observed.
func (o *RuleObserve) Enabled() bool { return o.Column != "" }

// FieldPath is Field split at its dots, without the leading "$.".
func (o *RuleObserve) FieldPath() []string {
	f := strings.TrimPrefix(strings.TrimPrefix(o.Field, "$"), ".")
	if f == "" {
		return nil
	}
	return strings.Split(f, ".")
}

// ObservedRules returns the rules with observe, in file order.
func (c *Config) ObservedRules() []*Rule {
	var out []*Rule
	for i := range c.Rules {
		if c.Rules[i].Observe.Enabled() {
			out = append(out, &c.Rules[i])
		}
	}
	return out
}

// WindowDurations are the windows as time.Duration, in file order.
func (o *ObserveConfig) WindowDurations() []time.Duration {
	out := make([]time.Duration, len(o.Windows))
	for i, w := range o.Windows {
		out[i] = w.D()
	}
	return out
}

func (o *ObserveConfig) check(k *checker) {
	if !(o.Sample > 0 && o.Sample <= 1) {
		k.addf("observe.sample", "must be a fraction above 0 and at most 1, such as 0.01 (default), got %s", k.show("observe.sample", fmt.Sprint(o.Sample)))
	}
	if len(o.Windows) == 0 {
		k.addf("observe.windows", "needs at least one delay, such as [1s, 10s, 60s] (default)")
	}
	for i, w := range o.Windows {
		p := indexPath("observe.windows", i)
		switch {
		case w <= 0:
			k.addf(p, "must be above 0, got %s", k.show(p, w.String()))
		case i > 0 && w <= o.Windows[i-1]:
			k.addf(p, "must be longer than the window before it (%s): write the windows in increasing order", o.Windows[i-1])
		}
	}
	k.atLeastOne("observe.queue", o.Queue, "10000")
	k.atLeastOne("observe.rate", o.Rate, "200")
}

func (k *checker) checkObserve(r *Rule, path string) {
	o := &r.Observe
	if !k.written(path) && *o == (RuleObserve{}) {
		return
	}
	if o.Column == "" {
		k.addf(path+".column", "is required with observe: the row's version column, such as version")
	}
	n := 0
	for _, s := range []string{o.Field, o.HashField, o.Stamp} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		k.addf(path, `needs one of field (a JSON value: "$.version"), hash_field (a Redis hash) or stamp: cacheaside`)
	case n > 1:
		k.addf(path, "takes only one of field, hash_field and stamp: the value is JSON, a hash, or filled by cacheaside")
	}
	if o.Field != "" {
		for _, part := range o.FieldPath() {
			if part == "" || strings.TrimSpace(part) != part {
				k.addf(path+".field", `must be a dotted path such as "$.version" or "$.meta.version", got %s`, k.show(path+".field", o.Field))
				break
			}
		}
		if len(o.FieldPath()) == 0 {
			k.addf(path+".field", `names no field: write "$.version" or "$.meta.version"`)
		}
	}
	if o.Stamp != "" && o.Stamp != StampCacheaside {
		k.addf(path+".stamp", "must be cacheaside, got %s", k.show(path+".stamp", o.Stamp))
	}
}
