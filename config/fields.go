package config

import (
	"fmt"
	"reflect"
	"strings"
)

// field is one YAML key of a config struct.
type field struct {
	name  string
	index int
}

// fieldsOf lists the YAML keys of a struct in declaration order, which is
// also the order the example config documents them in.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, field{name: name, index: i})
	}
	return out
}

func findField(fields []field, name string) (field, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func fieldNames(fields []field) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// unknownKey suggests the closest known key, since most unknown keys are typos.
func unknownKey(name string, fields []field) string {
	known := strings.Join(fieldNames(fields), ", ")
	best, bestDist := "", 3 // suggest only within two edits
	for _, f := range fields {
		if dist := editDistance(strings.ToLower(name), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key: did you mean %q? (known keys here: %s)", best, known)
	}
	return fmt.Sprintf("unknown key: remove it, or use one of: %s", known)
}

// editDistance is the Levenshtein distance, for short key names only.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // not a typo of a key name; avoid quadratic work on junk
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
