package config

import "fmt"

// Warnings lists the rule's valid but risky settings. Today: with watch, a
// key template whose column is not watched. An UPDATE that changes only that
// column touches no watched column, so it emits nothing and the key built
// from the old value stays cached. Watching the column costs nothing: an
// UPDATE that leaves it alone still emits nothing. i is the rule's index,
// for the path in the message. Needs Validate to have parsed the templates.
func (r *Rule) Warnings(i int) []string {
	if len(r.Watch) == 0 {
		return nil
	}
	var w []string
	for _, t := range r.Templates {
		for _, col := range t.Columns() {
			if containsFold(r.Watch, col) {
				continue
			}
			w = append(w, fmt.Sprintf("rules[%d] (%s): key template %q uses column %q, which is not in watch: an UPDATE that changes only %s emits nothing and the key built from its old value stays cached; add %q to watch (an UPDATE that leaves it alone still emits nothing)",
				i, r.Table, t.Raw, col, col, col))
		}
	}
	return w
}

// RuleWarnings is Warnings of every rule, in order.
func (c *Config) RuleWarnings() []string {
	var w []string
	for i := range c.Rules {
		w = append(w, c.Rules[i].Warnings(i)...)
	}
	return w
}
