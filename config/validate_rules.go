package config

import (
	"errors"
	"strings"
)

func (k *checker) checkRules(rules []Rule) {
	if len(rules) == 0 {
		k.addf("rules", `needs at least one rule, such as: - {table: shop.users, keys: ["user:{id}"]}`)
		return
	}
	for i := range rules {
		path := indexPath("rules", i)
		r := &rules[i]
		// Derived fields are rebuilt on every call, so Validate can run again
		// after a Config is edited in Go.
		r.DB, r.TableGlob, r.Templates = "", "", nil
		k.checkTable(r, path+".table")
		k.checkKeys(r, path+".keys")
		k.checkWatch(r, path+".watch")
		k.checkWriteBehind(r, path+".write_behind")
		k.checkTruncate(r, path)
		k.checkAction(r, path)
		k.checkObserve(r, path+".observe")
	}
	k.checkStreamsUnique(rules)
	k.checkCascades(rules)
}

func (k *checker) checkTable(r *Rule, path string) {
	db, table, ok := splitTable(r.Table)
	got := k.show(path, r.Table)
	switch {
	case r.Table == "":
		k.addf(path, "is required: db.table such as shop.users (* and ? may stand for characters of the table name)")
	case strings.Contains(r.Table, "`"):
		k.addf(path, "must be written without backquotes, such as shop.users, got %s", got)
	case !ok || db == "" || table == "":
		k.addf(path, "must be db.table such as shop.users or shop.orders_*, got %s", got)
	case isGlob(db):
		k.addf(path, "cannot use * or ? in the database part, only in the table part: write one rule per database, got %s", got)
	case strings.TrimSpace(db) != db || strings.TrimSpace(table) != table:
		k.addf(path, "has spaces around a name: write db.table without spaces, got %s", got)
	default:
		r.DB, r.TableGlob = db, table
	}
}

func (k *checker) checkKeys(r *Rule, path string) {
	if len(r.Keys) == 0 {
		k.addf(path, `needs at least one key template, such as ["user:{id}"]`)
		return
	}
	first := map[string]int{}
	k.templates(path, r.Keys, func(j int, p string, t *Template) {
		// Compare what the templates produce, so "{id}" and "{ID}" are duplicates too.
		canon := t.syntax(true)
		if prev, dup := first[canon]; dup {
			k.addf(p, "makes the same keys as keys[%d]: remove one", prev)
			return
		}
		first[canon] = j
		r.Templates = append(r.Templates, t)
	})
}

// templates parses each of raws, the key templates at path, and hands
// visit the ones that parse with their index and path.
func (k *checker) templates(path string, raws []string, visit func(j int, p string, t *Template)) {
	for j, raw := range raws {
		p := indexPath(path, j)
		if t := k.template(p, raw); t != nil {
			visit(j, p, t)
		}
	}
}

// template parses one key template and explains what is wrong with it.
func (k *checker) template(path, raw string) *Template {
	if raw == "" {
		k.addf(path, "is empty: write a key template such as user:{id}")
		return nil
	}
	t, err := ParseTemplate(raw)
	var te *TemplateError
	switch {
	case errors.As(err, &te) && k.fromEnv(path):
		// The message would quote parts of the expanded value.
		k.addf(path, "is not a valid key template once %s is expanded (character %d): check the variable's value", k.show(path, raw), te.Char())
		return nil
	case errors.As(err, &te):
		k.addf(path, "%s, at character %d of %q", te.Msg, te.Char(), te.Template)
		return nil
	case err != nil:
		k.addf(path, "%v", err)
		return nil
	}
	if len(t.Columns()) == 0 {
		msg := "uses no column, so every change would delete the same key: put a column in braces, such as user:{id}"
		if strings.Contains(raw, "{{") {
			msg += ` ("{{" and "}}" are literal braces)`
		}
		k.addf(path, "%s, got %s", msg, k.show(path, raw))
		return nil
	}
	return t
}

func (k *checker) checkWatch(r *Rule, path string) {
	first := map[string]int{}
	for j, w := range r.Watch {
		p := indexPath(path, j)
		if why := checkIdentifier(w); why != "" {
			if k.fromEnv(p) {
				why = "is not a valid column name"
			}
			k.addf(p, "column name %s %s", k.show(p, w), why)
			continue
		}
		low := strings.ToLower(w) // MySQL column names are case-insensitive
		if prev, dup := first[low]; dup {
			k.addf(p, "repeats watch[%d]: remove one", prev)
			continue
		}
		first[low] = j
	}
}

// fromEnv reports whether the value at path was expanded from the environment.
func (k *checker) fromEnv(path string) bool {
	if k.src == nil {
		return false
	}
	_, ok := k.src.raw[path]
	return ok
}
