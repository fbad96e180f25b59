package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"

	"gopkg.in/yaml.v3"
)

// sourceInfo is what Validate needs to know about the file a Config came
// from: the line of every key and list item, and which values came from the
// environment (those are never shown in messages; the text as written is).
type sourceInfo struct {
	file  string
	lines map[string]int    // path ("rules[1].keys[0]") → line
	raw   map[string]string // path → value as written, where ${VAR} was expanded
}

// Load reads and parses the config file at path; see Parse.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err) // the *PathError names the file
	}
	return Parse(data, path, getenv)
}

// Parse decodes a config over Default(), so a key written explicitly (even
// "second_delay: 0") wins and an omitted key keeps its default; a key written
// with no value (null) counts as omitted. ${VAR} in a value is replaced from
// getenv (nil means no variables) and $${ is a literal ${. Unknown keys are
// errors. On any problem it returns a nil Config and *Problems holding every
// problem of the file, including Validate's; name labels them.
func Parse(data []byte, name string, getenv func(string) (string, bool)) (*Config, error) {
	root, prob := parseDocument(data)
	if prob != nil {
		return nil, Problems{*prob}.asError(name)
	}
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	d := newDecoder(name, getenv)
	cfg := Default()
	d.value(root, reflect.ValueOf(&cfg).Elem(), "")
	cfg.src = d.src
	for i := range cfg.Rules {
		cfg.Rules[i].Line = d.src.lines[indexPath("rules", i)]
	}
	probs := d.probs
	var vp *Problems
	if errors.As(cfg.Validate(), &vp) {
		probs = append(probs, notUnder(*vp, d.probs)...)
	}
	if err := probs.asError(name); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// notUnder drops the problems at or below a path that already has a decode
// problem: a value that could not be read kept its default, and a second
// message about that default ("source.user: is required" after "variable
// DB_USER is not set") would only distract from the first.
func notUnder(ps, decoded Problems) Problems {
	bad := make(map[string]bool, len(decoded))
	for _, d := range decoded {
		bad[d.Path] = true
	}
	var out Problems
	for _, p := range ps {
		if !underAny(p.Path, bad) {
			out = append(out, p)
		}
	}
	return out
}

// underAny reports whether path or one of its parents is in set; the root
// ("") is not a parent, so a problem with the file as a whole hides nothing.
func underAny(path string, set map[string]bool) bool {
	for p := path; p != ""; p = parentPath(p) {
		if set[p] {
			return true
		}
	}
	return false
}

// parseDocument returns the root mapping of a one-document file. An empty
// file is an empty mapping, so Validate explains what is missing.
func parseDocument(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return &yaml.Node{Kind: yaml.MappingNode, Line: 1}, nil
	} else if err != nil {
		return nil, syntaxProblem(err, data)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &Problem{Line: next.Line, Msg: "a second YAML document starts here: cachesync reads one document per file; " +
			"remove the \"---\" line and what follows it, or merge it into the first document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxProblem(err, data)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return &yaml.Node{Kind: yaml.MappingNode, Line: root.Line}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Problem{Line: root.Line, Msg: "the file must be a mapping of sections (source:, checkpoint:, transport:, " +
			"redis:, delete:, retry:, http:, rules:), not " + kindName(root)}
	}
	return root, nil
}

// kindName says what a node is, for "must be X, not Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }
