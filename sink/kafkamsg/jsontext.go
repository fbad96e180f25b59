package kafkamsg

// Reading JSON text strictly, below the v1 fields: objects cut into their
// members (duplicate names refused) as their syntax is checked, then arrays
// into elements and string literals unquoted without replacing any byte —
// these two walk the members' checked text.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// object splits one JSON object into its members, refusing duplicate names
// (decoders disagree on which one wins) and anything after the object.
// The syntax is checked as encoding/json.Valid would, in the same pass that
// cuts the members out, without allocating: several times faster than
// decoding tokens.
func object(b []byte) (*members, *DecodeError) {
	ms := new(members)
	if err := ms.parse(b); err != nil {
		return nil, err
	}
	return ms, nil
}

// parse reads b's members into ms (see object); Decode keeps ms on its stack.
// One pass checks the syntax (the grammar of validJSON) and cuts the
// members out. A duplicate or undecodable name is reported only if the whole
// text is valid JSON, as a check of the syntax first would have.
func (ms *members) parse(b []byte) *DecodeError {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		if !validJSON(b) {
			return syntaxError(b)
		}
		return derr("", "not a JSON object")
	}
	var first *DecodeError
	i, end, ok := listStart(b, i, 1, '}')
	for ok && !end {
		if i >= len(b) || b[i] != '"' {
			ok = false
			break
		}
		var e int
		if e, ok = jsonString(b, i); !ok {
			break
		}
		name := b[i+1 : e-1]
		if first == nil && bytes.IndexByte(name, '\\') >= 0 {
			s, err := unquote(b[i:e])
			if err != nil {
				first = err
			}
			name = []byte(s)
		}
		i = skipWS(b, e)
		if i >= len(b) || b[i] != ':' {
			ok = false
			break
		}
		v := skipWS(b, i+1)
		if i, ok = jsonValue(b, v, 1); !ok {
			break
		}
		if first == nil && !ms.add(name, b[v:i:i]) {
			first = derr(string(name), "appears twice")
		}
		i, end, ok = listNext(b, i, '}')
	}
	if !ok || skipWS(b, i) != len(b) {
		return syntaxError(b)
	}
	return first
}

// members are an object's members in order. A v1 message has about a dozen:
// they fit in the array and are found faster by a look along it than by
// hashing; an object with many more (only a hostile one) gets an index so
// duplicates stay linear to find.
type members struct {
	first [membersIndexAt]member
	n     int
	more  []member // after the first membersIndexAt
	index map[string]int
}

type member struct {
	name []byte // unquoted
	raw  json.RawMessage
}

const membersIndexAt = 16

func (ms *members) at(i int) *member {
	if i < membersIndexAt {
		return &ms.first[i]
	}
	return &ms.more[i-membersIndexAt]
}

// add appends a member; false if one of that name is already there.
func (ms *members) add(name []byte, raw json.RawMessage) bool {
	if _, dup := ms.get(string(name)); dup {
		return false
	}
	if ms.n < membersIndexAt {
		ms.first[ms.n] = member{name, raw}
	} else {
		ms.more = append(ms.more, member{name, raw})
	}
	ms.n++
	switch {
	case ms.n == membersIndexAt:
		ms.index = make(map[string]int, 2*ms.n)
		for i := range ms.n {
			ms.index[string(ms.at(i).name)] = i
		}
	case ms.n > membersIndexAt:
		ms.index[string(name)] = ms.n - 1
	}
	return true
}

// get is the member named name.
func (ms *members) get(name string) (json.RawMessage, bool) {
	if ms.index != nil {
		i, ok := ms.index[name]
		if !ok {
			return nil, false
		}
		return ms.at(i).raw, true
	}
	for i := range ms.n {
		if string(ms.first[i].name) == name {
			return ms.first[i].raw, true
		}
	}
	return nil, false
}

func (ms *members) len() int { return ms.n }

// elements splits a checked JSON array into its elements.
func elements(b []byte) []json.RawMessage {
	var out []json.RawMessage
	i := skipWS(b, 1)
	for b[i] != ']' {
		end := skipValue(b, i)
		out = append(out, b[i:end:end])
		i = skipWS(b, end)
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out
}

// syntaxError explains why b is not one JSON value, in encoding/json's words.
func syntaxError(b []byte) *DecodeError {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	err := dec.Decode(&v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return derr("", "data after the JSON object")
		}
		err = errors.New("invalid JSON")
	}
	return &DecodeError{Reason: "not valid JSON: " + err.Error(), Err: err}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the checked JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; ; i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// unquote decodes a JSON string literal the JSON decoder has already
// checked. It differs from encoding/json in one way: a \u escape of a lone
// surrogate is an error, not U+FFFD, so no byte is ever replaced.
func unquote(raw json.RawMessage) (string, *DecodeError) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", derr("", "must be a string, got %s", jsonKind(raw))
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), nil // Decode checked the whole text is UTF-8
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2:])
				}
				if r2 < 0xDC00 || r2 > 0xDFFF {
					return "", derr("", "\\u%04x is half a UTF-16 surrogate pair: the string cannot be decoded without changing it", r)
				}
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, e)
		}
	}
	return string(out), nil
}

// hex4 reads the four hex digits the JSON decoder has already checked.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func shorten(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}
