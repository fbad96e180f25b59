package canal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/writebehind"
)

func wbRules(t *testing.T, db string) []*config.Rule {
	t.Helper()
	text := fmt.Sprintf(`source: {user: root}
rules:
  - table: %s.items
    keys: ["item:{id}", "items:name:{name}"]
    write_behind: {stream: "wb:items", keys: ["item:{id}", "items:name:{name}"]}
`, db)
	cfg, err := config.Parse([]byte(text), "rules.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return []*config.Rule{&cfg.Rules[0]}
}

// What the tailer emits for the flusher's own transaction: the owned keys of
// inserted and updated rows guarded, once; every key of a deleted row plain,
// even one emitted guarded before in the transaction; an owned template on a
// column outside the primary key plain; a later plain transaction plain.
func TestEchoGuardedKeys(t *testing.T) {
	m := sharedMariaDB(t)
	db := m.NewDatabase(t)
	q := "`" + db + "`"
	m.Exec(t, "CREATE TABLE "+q+".items (id INT PRIMARY KEY, name VARCHAR(16), qty INT)")
	offsets := q + "." + writebehind.OffsetsTable
	m.Exec(t, writebehind.OffsetsDDL(offsets))
	m.Exec(t, "INSERT INTO "+q+".items VALUES (1, 'a', 0), (2, 'b', 0)")
	file, pos := m.MasterStatus(t)
	conn := m.Conn(t)
	for _, stmt := range []string{
		"BEGIN",
		"INSERT INTO " + offsets + " (" + writebehind.OffsetsStream + ", " + writebehind.OffsetsLastID + ") VALUES ('wb:items', '1-0')",
		"UPDATE " + q + ".items SET qty = 5 WHERE id = 1",
		"UPDATE " + q + ".items SET qty = 6 WHERE id = 1",
		"DELETE FROM " + q + ".items WHERE id = 2",
		"INSERT INTO " + q + ".items VALUES (3, 'c', 1)",
		"DELETE FROM " + q + ".items WHERE id = 3",
		"COMMIT",
		"UPDATE " + q + ".items SET qty = 7 WHERE id = 1",
	} {
		if _, err := conn.Execute(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	endFile, endPos := m.MasterStatus(t)
	col, met := tailRange(t, m, wbRules(t, db), event.Position{File: file, Pos: pos}, event.Position{File: endFile, Pos: endPos})
	var got []string
	for _, b := range col.batches {
		for i, k := range b.Keys {
			mark := ""
			if b.IsGuarded(i) {
				mark = " guarded"
			}
			got = append(got, fmt.Sprintf("%s %s%s", b.Op, k, mark))
		}
	}
	want := []string{
		"update item:1 guarded", "update items:name:a", // the second update: all de-duplicated
		"delete item:2", "delete items:name:b",
		"insert item:3 guarded", "insert items:name:c",
		"delete item:3",                        // plain after guarded: goes out again
		"update item:1", "update items:name:a", // a plain transaction
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("emitted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := testutil.ToFloat64(met.WBEchoGuarded.WithLabelValues(db + ".items")); n != 2 {
		t.Errorf("echo guarded keys counted %v, want 2", n)
	}
}
