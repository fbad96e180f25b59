package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a config, with where it is and how to fix it.
type Problem struct {
	File string // the config file; empty for a Config built in Go
	Line int    // 1-based line in File; 0 when unknown
	Path string // the key, e.g. "rules[1].keys[0]"; empty for the file as a whole
	Msg  string // what is wrong and what to write instead
}

// String renders "file:line: path: message", leaving out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one pass, so a user fixes a config in
// one edit instead of one restart per mistake. Load, Parse, Validate and
// ResolveSecrets return it as *Problems.
type Problems []Problem

// Error renders one problem per line, sorted by line.
func (ps *Problems) Error() string {
	sorted := slices.Clone(*ps)
	sortProblems(sorted)
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders by line; problems on one line keep the order they
// were found in, which follows the file.
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
}

// asError returns nil for no problems: a nil *Problems stored in an error
// interface would not compare equal to nil.
func (ps Problems) asError(file string) error {
	if len(ps) == 0 {
		return nil
	}
	out := slices.Clone(ps)
	for i := range out {
		if out[i].File == "" {
			out[i].File = file
		}
	}
	sortProblems(out)
	return &out
}
