package config

import "strings"

// Render builds the key from the values value gives for the template's
// columns; ok is false when value has none for some column (NULL, or not
// known), and then no key is rendered: never a partial one.
func (t *Template) Render(value func(column string) (string, bool)) (key string, ok bool) {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Column == "" {
			b.WriteString(p.Literal)
			continue
		}
		v, ok := value(p.Column)
		if !ok {
			return "", false
		}
		b.WriteString(v)
	}
	return b.String(), true
}
