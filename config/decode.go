package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML tree alongside the Config struct instead of handing
// the whole tree to yaml.v3. yaml.v3's KnownFields does collect every unknown
// key, but reports it as text naming a Go type rather than the YAML path, and
// a duplicate key in a mapping hides the rest of that mapping's errors; it is
// also not available on Node.Decode, which expansion requires. Walking the
// tree ourselves gives each problem its line and path, expands ${VAR} knowing
// the field's type, and records the path→line map Validate reports with.
// Leaf values are still decoded by yaml.v3.
type decoder struct {
	src    *sourceInfo
	getenv func(string) (string, bool)
	probs  Problems
	budget int                 // keys and values still allowed; bounds alias bombs
	active map[*yaml.Node]bool // alias targets being decoded; catches cycles
}

// maxValues (keys and values) is far above any real config (thousands of
// rules) and far below what would exhaust memory or time when anchors and
// aliases multiply the content.
const maxValues = 200_000

func newDecoder(file string, getenv func(string) (string, bool)) *decoder {
	return &decoder{
		src:    &sourceInfo{file: file, lines: map[string]int{}, raw: map[string]string{}},
		getenv: getenv,
		budget: maxValues,
		active: map[*yaml.Node]bool{},
	}
}

func (d *decoder) problem(line int, path, format string, args ...any) {
	d.probs = append(d.probs, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// value decodes n onto v, which already holds the default.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		d.alias(n, v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // written without a value: keep the default
	}
	if !d.spend(n.Line, path) {
		return
	}
	switch {
	case reflect.PointerTo(v.Type()).Implements(unmarshalerType):
		d.scalar(n, v, path)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	case v.Kind() == reflect.Map:
		d.mapOf(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// spend counts one more key or value; false once the budget is gone, which
// only anchors and aliases multiplying the file's content can cause.
func (d *decoder) spend(line int, path string) bool {
	if d.budget--; d.budget >= 0 {
		return true
	}
	if d.budget == -1 {
		d.problem(line, path, "anchors and aliases expand to more than %d keys and values: write the values out instead", maxValues)
	}
	return false
}

func (d *decoder) alias(n *yaml.Node, v reflect.Value, path string) {
	target := n.Alias
	if target == nil || d.active[target] {
		d.problem(n.Line, path, "this alias refers to a value that contains it: write the value out instead")
		return
	}
	d.active[target] = true
	d.value(target, v, path)
	delete(d.active, target)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "must be a mapping of keys (%s), not %s", strings.Join(fieldNames(fields), ", "), kindName(n))
		return
	}
	d.merges(n, v, path)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMerge(k) {
			d.field(k, n.Content[i+1], v, fields, seen, path)
		}
	}
}

func (d *decoder) field(k, val *yaml.Node, v reflect.Value, fields []field, seen map[string]int, path string) {
	if k.Kind != yaml.ScalarNode {
		d.problem(k.Line, path, "a key must be a plain name, not %s", kindName(k))
		return
	}
	p := joinPath(path, k.Value)
	if !d.spend(k.Line, p) {
		return
	}
	if first, dup := seen[k.Value]; dup {
		d.problem(k.Line, p, "written twice (first at line %d): keep one", first)
		return
	}
	seen[k.Value] = k.Line
	f, ok := findField(fields, k.Value)
	if !ok {
		d.problem(k.Line, p, "%s", unknownKey(k.Value, fields))
		return
	}
	d.src.lines[p] = k.Line
	d.value(val, v.Field(f.index), p)
}

// merges applies YAML merge keys (<<: *base) before the mapping's own keys,
// so, as in YAML, keys written in the mapping win over merged ones.
func (d *decoder) merges(n *yaml.Node, v reflect.Value, path string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMerge(n.Content[i]) {
			continue
		}
		src := n.Content[i+1]
		if src.Kind == yaml.SequenceNode {
			for _, m := range src.Content {
				d.value(m, v, path)
			}
			continue
		}
		d.value(src, v, path)
	}
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

// sequence replaces the default list with the written one, item by item so
// each bad item gets its own line.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode {
			d.problem(n.Line, path, "must be a list: write [%s]", n.Value)
		} else {
			d.problem(n.Line, path, "must be a list, not %s", kindName(n))
		}
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.src.lines[p] = item.Line
		d.value(item, out.Index(i), p)
	}
	v.Set(out)
}

// mapOf replaces the default map with the written one: name → value, each
// value with its own line (path.name), a name written twice refused.
func (d *decoder) mapOf(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "must be a mapping of name: value, not %s", kindName(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || isMerge(k) {
			d.problem(k.Line, path, "a name must be plain text, not %s", kindName(k))
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.problem(k.Line, p, "written twice (first at line %d): keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		d.src.lines[p] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(n.Content[i+1], elem, p)
		out.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(out)
}

// scalar expands ${VAR} and decodes one value. An expanded value goes into a
// text field verbatim (a password "null" or "123" stays that text); for
// other fields it is read as if written unquoted in place of the reference.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n.Line, path, "%s, not %s", expected(v.Type()), kindName(n))
		return
	}
	x := expandVars(n.Value, d.getenv)
	for _, e := range x.errs {
		d.problem(n.Line, path, "%s", e)
	}
	if len(x.errs) > 0 {
		return
	}
	if x.fromEnv {
		d.src.raw[path] = n.Value
	}
	if v.Type() == secretType && !x.fromEnv && x.value != "" {
		// Not the value: the message must not echo a secret.
		d.problem(n.Line, path, `is written in the config file; secrets come only from the environment or a file: write %s: "${%s}", or use %s_file`,
			lastKey(path), secretVar(path), lastKey(path))
	}
	if x.changed && v.Kind() == reflect.String {
		v.SetString(x.value)
		return
	}
	if x.changed {
		n = &yaml.Node{Kind: yaml.ScalarNode, Value: x.value, Line: n.Line, Column: n.Column, Tag: explicitTag(n)}
		if n.ShortTag() == "!!null" {
			d.problem(n.Line, path, "expands to an empty value: set the variable, or remove the key to use the default")
			return
		}
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		d.problem(n.Line, path, "%s", d.typeMessage(v.Type(), n.Value, path))
		return
	}
	v.Set(tmp.Elem())
}

func explicitTag(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag
	}
	return "" // let yaml.v3 resolve the expanded text like a plain scalar
}

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// typeMessage explains a value that does not fit its field. It never shows a
// secret, and shows the text as written for values from the environment.
func (d *decoder) typeMessage(t reflect.Type, value, path string) string {
	got := ", got " + shown(d.src, path, value)
	switch {
	case t == secretType:
		return "must be text"
	case t == durationType:
		_, err := parseDuration(value)
		if err == nil {
			return "must be a duration such as 500ms or 2s" + got
		}
		return err.Error() + got
	}
	return expected(t) + got
}

func expected(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == durationType {
			return "must be a duration such as 500ms or 2s"
		}
		return "must be a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("must be a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.String:
		return "must be text"
	}
	return "has the wrong type"
}

// shown quotes a value for a message. A value that came from the environment
// is shown as written in the file (${VAR}), never expanded: the environment
// is where secrets live, and config errors end up in tickets and chat.
func shown(src *sourceInfo, path, value string) string {
	if src != nil {
		if raw, ok := src.raw[path]; ok {
			return fmt.Sprintf("%q (from the environment)", raw)
		}
	}
	return fmt.Sprintf("%q", value)
}

// lastKey is the last element of a dotted path.
func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// secretVar suggests an environment variable name for a secret's path.
func secretVar(path string) string {
	switch {
	case strings.HasPrefix(path, "source."):
		return "MYSQL_PASSWORD"
	case strings.HasPrefix(path, "redis.sentinel"):
		return "REDIS_SENTINEL_PASSWORD"
	case strings.HasPrefix(path, "redis."):
		return "REDIS_PASSWORD"
	case strings.HasPrefix(path, "transport.kafka.sasl."):
		return "KAFKA_PASSWORD"
	case strings.HasPrefix(path, "replicas["):
		return "REPLICA_PASSWORD"
	}
	return "SECRET"
}
