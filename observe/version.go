// Package observe is the consistency observer: for a sample of committed row
// changes it reads the rule's cache keys at fixed delays after the commit
// (the windows) and counts the keys still holding a version older than the
// committed one. A value still stale at the last window is re-checked
// against the database (the row may have changed again) before it counts
// as inconsistent. Checks run on their own goroutine behind a bounded queue
// and a rate limit, so the pipeline that feeds them is never slowed.
package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cachesync/cachesync/cacheaside"
	"github.com/cachesync/cachesync/config"
)

// Kind is where a cached value carries the row's version.
type Kind int

const (
	KindJSON  Kind = iota // a field of a JSON object value
	KindHash              // a field of a Redis hash
	KindStamp             // the version cacheaside stores beside the value
)

// Extractor reads the version out of a cached value as a rule declares it.
type Extractor struct {
	Kind  Kind
	Path  []string // KindJSON: the dotted field path
	Field string   // KindHash: the hash field
}

// NewExtractor builds the extractor of a rule's observe section.
func NewExtractor(o config.RuleObserve) (Extractor, error) {
	switch {
	case o.Field != "":
		p := o.FieldPath()
		if len(p) == 0 {
			return Extractor{}, fmt.Errorf("observe.field %q names no field", o.Field)
		}
		return Extractor{Kind: KindJSON, Path: p}, nil
	case o.HashField != "":
		return Extractor{Kind: KindHash, Field: o.HashField}, nil
	case o.Stamp == config.StampCacheaside:
		return Extractor{Kind: KindStamp}, nil
	}
	return Extractor{}, errors.New("observe needs field, hash_field or stamp: cacheaside")
}

// ErrNoVersion is returned when a present value carries no readable version
// (the field is missing, not an integer, or the value is not what the rule
// says): such a key is counted as "unreadable", never as stale.
var ErrNoVersion = errors.New("no version in the cached value")

// FromValue returns the version in a string value (JSON or cacheaside).
func (x Extractor) FromValue(v []byte) (int64, error) {
	switch x.Kind {
	case KindStamp:
		if n, ok := cacheaside.StoredVersion(v); ok {
			return n, nil
		}
		return 0, fmt.Errorf("%w: not a value cacheaside stored with Config.Version", ErrNoVersion)
	case KindJSON:
		return x.fromJSON(v)
	}
	return 0, fmt.Errorf("%w: a hash rule read a string value", ErrNoVersion)
}

// FromHash returns the version in a hash field's value (nil: field absent).
func (x Extractor) FromHash(field *string) (int64, error) {
	if field == nil {
		return 0, fmt.Errorf("%w: hash has no field %q", ErrNoVersion, x.Field)
	}
	n, err := strconv.ParseInt(*field, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: hash field %q is %q, not an integer", ErrNoVersion, x.Field, *field)
	}
	return n, nil
}

func (x Extractor) fromJSON(v []byte) (int64, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var cur any
	if err := dec.Decode(&cur); err != nil {
		return 0, fmt.Errorf("%w: value is not JSON: %v", ErrNoVersion, err)
	}
	for i, name := range x.Path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("%w: $.%s is not an object", ErrNoVersion, joinPath(x.Path[:i]))
		}
		if cur, ok = obj[name]; !ok {
			return 0, fmt.Errorf("%w: no field $.%s", ErrNoVersion, joinPath(x.Path[:i+1]))
		}
	}
	var s string
	switch t := cur.(type) {
	case json.Number:
		s = t.String()
	case string: // a version written as a JSON string ("42"), as BIGINTs often are
		s = t
	default:
		return 0, fmt.Errorf("%w: $.%s is %T, not an integer", ErrNoVersion, joinPath(x.Path), cur)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: $.%s is %q, not an integer", ErrNoVersion, joinPath(x.Path), s)
	}
	return n, nil
}

func joinPath(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}
