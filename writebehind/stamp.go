package writebehind

import _ "embed"

// StampSuffix names a key's stamp: the scripts write, beside each cache key
// they write, KEYS[1] + StampSuffix holding the SHA-1 (hex) of the value
// written, with the key's TTL. The suffix has no braces, so the stamp keeps
// the key's hash tag and its Cluster slot.
const StampSuffix = "#cachesync-stamp"

// StampKey returns the stamp of key; the scripts take it as KEYS[3] (a
// script must be given every key it touches, for Redis Cluster routing).
func StampKey(key string) string { return key + StampSuffix }

//go:embed scripts/guard.lua
var guardSource string

// GuardScript returns the guarded delete cachesync runs for the owned keys
// of the flusher's own row writes: KEYS[1] the key, KEYS[2] its stamp; it
// keeps the key (returns 0) only when the stamp is the SHA-1 of the key's
// value, else deletes both (returns 1).
func GuardScript() string { return guardSource }
