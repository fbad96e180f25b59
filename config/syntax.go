package config

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// yaml.v3 has no typed syntax error and its line numbers are uneven: parser
// errors count lines from 0, scanner errors from 1, and a problem on the
// first line, a bad byte or an unknown alias carries no line at all. The
// functions here turn its message back into the line a user sees in an
// editor. Only the line depends on the wording: if it changes, the problem is
// still reported whole.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3's parser messages, whose lines count from 0.
// Every other message with a line comes from the scanner and counts from 1.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

var unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

func syntaxProblem(err error, data []byte) *Problem {
	text := err.Error()
	msg := strings.TrimPrefix(text, "yaml: ")
	line := 0
	switch m := yamlLine.FindStringSubmatch(text); {
	case m != nil:
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if isParserProblem(msg) {
			line++
		}
	case unknownAnchor.MatchString(text):
		line = lineOf(data, bytes.Index(data, []byte("*"+unknownAnchor.FindStringSubmatch(text)[1])))
	default:
		// No line: either the problem is on line 1, or it is a byte the
		// reader refused before any line was counted.
		line = max(1, lineOf(data, firstUnreadable(data)))
	}
	return &Problem{Line: line, Msg: "invalid YAML: " + msg + "; " + syntaxHint(msg, data, line)}
}

func isParserProblem(msg string) bool {
	for _, p := range parserProblems {
		if msg == p {
			return true
		}
	}
	return false
}

// syntaxHint guesses the usual cause, for the mistakes people actually make.
func syntaxHint(msg string, data []byte, line int) string {
	text := lineText(data, line)
	switch {
	case strings.Contains(text, "\t"):
		return "this line has a tab: YAML indents with spaces only"
	case strings.Contains(text, "${") && strings.HasPrefix(msg, "did not find expected ','"):
		return `inside { } or [ ], a value with braces must be quoted: write password: "${MYSQL_PASSWORD}"`
	case strings.HasPrefix(msg, "unknown anchor"):
		return "define the anchor (&name) before using it (*name), or quote a value that starts with *"
	}
	return "check the indentation, and quote values that contain \": \" or \" #\" or start with a special character"
}

// lineOf is the 1-based line of a byte offset; 0 for a negative offset.
func lineOf(data []byte, offset int) int {
	if offset < 0 || offset > len(data) {
		return 0
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func lineText(data []byte, line int) string {
	if line < 1 {
		return ""
	}
	lines := bytes.SplitN(data, []byte("\n"), line+1)
	if len(lines) < line {
		return ""
	}
	return string(lines[line-1])
}

// firstUnreadable is the offset of the first byte YAML refuses (invalid
// UTF-8 or a control character), or -1.
func firstUnreadable(data []byte) int {
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && w == 1 || !yamlPrintable(r) {
			return i
		}
		i += w
	}
	return -1
}

// yamlPrintable is YAML 1.2's c-printable (plus the BOM yaml.v3 accepts).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7E || r == 0x85 ||
		r >= 0xA0 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
