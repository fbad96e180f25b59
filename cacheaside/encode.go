package cacheaside

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Prefix starts every value the client stores that is not the caller's own
// bytes: a lease placeholder, a cached "not found", or an escaped value. The
// byte after it says which:
//
//	Prefix + "L" + token   a lease placeholder (token: 32 hex digits, random)
//	Prefix + "N"           a cached "not found" (tombstone)
//	Prefix + "E" + value   value, which itself starts with Prefix
//	Prefix + "V" + version + ":" + value
//	                       value filled with Config.Version set: version is
//	                       the row's version (decimal) read with it, for the
//	                       consistency observer (StoredVersion)
//
// Any other value is stored as it is. So a stored value that starts with
// Prefix is never the caller's raw bytes, and no value — not even one equal
// to some placeholder — is ever taken for a placeholder.
const Prefix = "\x00cachesync\x00"

const (
	kindLease    = 'L'
	kindNotFound = 'N'
	kindEscaped  = 'E'
	kindVersion  = 'V'
)

// tombstone is the stored form of "not found".
const tombstone = Prefix + string(kindNotFound)

// kind is what a stored value stands for.
type kind int

const (
	isValue kind = iota
	isLease
	isNotFound
)

// encode returns the stored form of a loaded value.
func encode(v []byte) []byte {
	if !bytes.HasPrefix(v, []byte(Prefix)) {
		return v
	}
	out := make([]byte, 0, len(Prefix)+1+len(v))
	out = append(append(append(out, Prefix...), kindEscaped), v...)
	return out
}

// decode classifies a stored value and, for a value, returns the caller's
// bytes (a subslice of stored: no copy on the hit path).
func decode(stored []byte) (kind, []byte, error) {
	if !bytes.HasPrefix(stored, []byte(Prefix)) {
		return isValue, stored, nil
	}
	rest := stored[len(Prefix):]
	switch {
	case len(rest) > 1 && rest[0] == kindLease:
		return isLease, nil, nil
	case len(rest) == 1 && rest[0] == kindNotFound:
		return isNotFound, nil, nil
	case len(rest) > 0 && rest[0] == kindEscaped:
		return isValue, rest[1:], nil
	case len(rest) > 0 && rest[0] == kindVersion:
		if _, v, ok := splitVersion(rest[1:]); ok {
			return isValue, v, nil
		}
	}
	return 0, nil, fmt.Errorf("stored value starts with the reserved prefix %q but is no placeholder, tombstone or escaped value (%d bytes): written by something other than cacheaside", Prefix, len(stored))
}

// newPlaceholder returns a lease placeholder with a fresh random token.
func newPlaceholder() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lease token: %w", err)
	}
	return Prefix + string(kindLease) + hex.EncodeToString(b[:]), nil
}

// encodeVersioned returns the stored form of a value read at version.
func encodeVersioned(version int64, v []byte) []byte {
	out := make([]byte, 0, len(Prefix)+22+len(v))
	out = append(append(out, Prefix...), kindVersion)
	out = strconv.AppendInt(out, version, 10)
	return append(append(out, ':'), v...)
}

// splitVersion parses "version:value" (the part after Prefix + "V").
func splitVersion(b []byte) (int64, []byte, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 1 || i > 20 {
		return 0, nil, false
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

// StoredVersion returns the version stored with a value filled while
// Config.Version was set, from the raw bytes of the key (a GET, not Get):
// ok is false for any other stored value.
func StoredVersion(stored []byte) (version int64, ok bool) {
	rest, found := bytes.CutPrefix(stored, []byte(Prefix))
	if !found || len(rest) == 0 || rest[0] != kindVersion {
		return 0, false
	}
	n, _, ok := splitVersion(rest[1:])
	return n, ok
}
