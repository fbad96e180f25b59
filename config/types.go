package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("500ms", "2s", "1m30s"). The bare number 0 is accepted too because
// "second_delay: 0" is the natural way to turn something off; any other bare
// number is refused, since nobody can tell whether 500 meant ms or s.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders like time.Duration ("500ms").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as the string form the file accepts, so a
// dumped config (JSON or YAML) reads back unchanged.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalYAML writes the duration as a string, for the same reason.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML accepts a Go duration string or the plain integer 0.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a duration such as 500ms or 2s, not a list or mapping")
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%v, got %q", err, n.Value)
	}
	*d = Duration(v)
	return nil
}

// parseDuration explains a bad duration without repeating it, so callers can
// decide whether the value itself may be shown (it may come from the environment).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if v, err := time.ParseDuration(s); err == nil {
		return v, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, errors.New("a number needs a unit: write for example 500ms or 2s (only 0 may go without)")
	}
	return 0, errors.New("must be a duration such as 500ms, 2s or 1m30s")
}

// Secret holds a password. Every way of printing or encoding it (fmt verbs,
// %#v, JSON, YAML, text) shows "******", or "" when it is empty, so a Config
// can be logged or dumped whole without leaking. Only Reveal gives the value,
// and it should appear only where the credential is handed to a client.
//
// Two holes no method can close while Secret is a string type: fmt's %p
// verb, and a Secret kept in an unexported field of another struct (fmt
// cannot call methods there). Keep secrets in exported fields.
type Secret string

const masked = "******"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return masked
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format masks the value for every fmt verb; without it %d or %x would fall
// back to printing the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalText masks the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML masks the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }
