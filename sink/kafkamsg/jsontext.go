package kafkamsg

// Reading JSON text strictly, below the v1 fields: objects cut into their
// members (duplicate names refused), arrays into elements, and string
// literals unquoted without replacing any byte. The text has passed
// json.Valid first, so these walk checked syntax.

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
// encoding/json's scanner checks the syntax once (json.Valid, which does not
// allocate); the members are then cut out of the checked text by hand,
// which is several times faster than decoding tokens.
func object(b []byte) (map[string]json.RawMessage, *DecodeError) {
	if !json.Valid(b) {
		return nil, syntaxError(b)
	}
	i := skipWS(b, 0)
	if b[i] != '{' {
		return nil, derr("", "not a JSON object")
	}
	fields := make(map[string]json.RawMessage, 12)
	i = skipWS(b, i+1)
	for b[i] != '}' {
		end := skipValue(b, i) // the member's name: a string
		name, err := unquote(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipWS(b, skipWS(b, end)+1) // past ':'
		end = skipValue(b, i)
		if _, dup := fields[name]; dup {
			return nil, derr(name, "appears twice")
		}
		fields[name] = b[i:end:end]
		i = skipWS(b, end)
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return fields, nil
}

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
