package kafkamsg

// validJSON reports whether b is one JSON value (RFC 8259) with optional
// white space around it: exactly what encoding/json.Valid accepts, bytes
// that are not UTF-8 inside strings included (Decode checks UTF-8 on its
// own), nesting deeper than encoding/json's 10,000 levels excluded.
// json.Valid runs a byte-at-a-time state machine and was a third of
// Decode's time; this walks the same grammar directly
// (FuzzValidJSON holds the two equal).
func validJSON(b []byte) bool {
	i, ok := jsonValue(b, skipWS(b, 0), 0)
	return ok && skipWS(b, i) == len(b)
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// jsonValue checks the value starting at b[i] and returns its end.
func jsonValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return jsonString(b, i)
	case c == '{':
		return jsonObject(b, i, depth+1)
	case c == '[':
		return jsonArray(b, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonNumber(b, i)
	case c == 't':
		return jsonLiteral(b, i, "true")
	case c == 'f':
		return jsonLiteral(b, i, "false")
	case c == 'n':
		return jsonLiteral(b, i, "null")
	}
	return i, false
}

func jsonLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func jsonObject(b []byte, i, depth int) (int, bool) {
	i, end, ok := listStart(b, i, depth, '}')
	for ok && !end {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		if i, ok = jsonString(b, i); !ok {
			return i, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = jsonValue(b, skipWS(b, i+1), depth); !ok {
			return i, false
		}
		i, end, ok = listNext(b, i, '}')
	}
	return i, ok
}

func jsonArray(b []byte, i, depth int) (int, bool) {
	i, end, ok := listStart(b, i, depth, ']')
	for ok && !end {
		if i, ok = jsonValue(b, i, depth); !ok {
			return i, false
		}
		i, end, ok = listNext(b, i, ']')
	}
	return i, ok
}

// listStart steps into the object or array opening at b[i]: end is true
// when it closes at once (then i is past it).
func listStart(b []byte, i, depth int, closer byte) (next int, end, ok bool) {
	if depth > maxJSONDepth {
		return i, false, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true, true
	}
	return i, false, true
}

// listNext reads what follows a member or element: the closer (end, and i
// past it) or a comma (i at the next one).
func listNext(b []byte, i int, closer byte) (next int, end, ok bool) {
	i = skipWS(b, i)
	if i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case closer:
		return i + 1, true, true
	case ',':
		return skipWS(b, i+1), false, true
	}
	return i, false, false
}

// jsonString checks the string literal starting at b[i] (a '"').
func jsonString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// jsonNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
