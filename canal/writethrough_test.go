package canal

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
)

// wtRules sets t:{id} to a JSON value and h:{id} to a hash of every golden
// column, and invalidates a list key beside them (a mixed rule).
const wtRules = `rules:
  - table: db.t
    keys: ["t:{id}", "list:{en}"]
    action: set
    set_keys: ["t:{id}"]
    value: {json: [id, i8, u8, i16, u16, i24, u24, i32, u32, i64, u64, dec1, dec2, fl, db, ch, vc, tx, lat, bn, vb, bl, d, dt, dt3, dt6, ts, tm, tm3, yr, en, st, bt, js]}
  - table: db.t
    keys: ["h:{id}"]
    action: set
    value: {hash: [id, vc, bn, dec2, ts, js]}
`

var goldenCols = []string{"id", "i8", "u8", "i16", "u16", "i24", "u24", "i32", "u32", "i64", "u64", "dec1", "dec2", "fl", "db",
	"ch", "vc", "tx", "lat", "bn", "vb", "bl", "d", "dt", "dt3", "dt6", "ts", "tm", "tm3", "yr", "en", "st", "bt", "js"}

var binaryCols = map[string]bool{"bn": true, "vb": true, "bl": true}

// TestWriteThroughGoldenTypes tails the golden types' rows (plus an update
// with 4-byte UTF-8 and a delete) with write-through on, and checks that
// every set value equals what MariaDB's SELECT shows for the row.
func TestWriteThroughGoldenTypes(t *testing.T) {
	db := sharedMariaDB(t)
	name := db.NewDatabase(t)
	dir := "../testdata/golden/types"
	runSQLFile(t, db, name, filepath.Join(dir, "schema.sql"))
	file, pos := db.MasterStatus(t)
	runSQLFile(t, db, name, filepath.Join(dir, "changes.sql"))
	conn := db.Conn(t)
	for _, q := range []string{"USE `" + name + "`", "SET time_zone = '+00:00'",
		"UPDATE t SET vc = 'ß 🎉 𝄞', bn = NULL WHERE id = 2", "DELETE FROM t WHERE id = 3",
		"UPDATE t SET id = 7 WHERE id = 6"} { // the key's column changes: old key tombstoned, new key set
		if _, err := conn.Execute(q); err != nil {
			t.Fatal(err)
		}
	}
	endFile, endPos := db.MasterStatus(t)
	col, _ := tailRangeWith(t, db, testenv.RulesFromText(t, wtRules, name), event.Position{File: file, Pos: pos},
		event.Position{File: endFile, Pos: endPos}, func(tl *Tailer) { tl.WriteThrough = true })

	last := map[string]event.Set{} // the newest set of each key, as the script keeps it
	var invalidated []string
	for _, b := range col.batches {
		invalidated = append(invalidated, b.Keys...)
		for _, s := range b.Sets {
			if prev, ok := last[s.Key]; !ok || prev.Version.Compare(s.Version) <= 0 {
				last[s.Key] = s
			}
		}
	}
	if !last["t:6"].Delete || last["t:7"].Delete || last["t:7"].JSON == nil {
		t.Errorf("an update of id 6 to 7 must tombstone t:6 and set t:7, got %+v / %+v", last["t:6"], last["t:7"])
	}
	for _, b := range col.batches {
		for _, s := range b.Sets {
			if s.Delete && (s.Key == "t:2" || s.Key == "h:2") {
				t.Errorf("the update of row 2 did not move %s, yet sent a tombstone for it (%v) besides its set", s.Key, s.Version)
			}
		}
	}
	if !last["t:3"].Delete || !last["h:3"].Delete {
		t.Errorf("deleted row 3 must leave tombstones, got %+v / %+v", last["t:3"], last["h:3"])
	}
	if !strings.Contains(strings.Join(invalidated, ","), "list:medium") {
		t.Errorf("the mixed rule's list key was not invalidated: %q", invalidated)
	}
	for _, id := range []int{1, 2, 4, 5, 7} {
		want := selectRow(t, conn, id)
		var got map[string]*string
		s := last[fmt.Sprint("t:", id)]
		if err := json.Unmarshal(s.JSON, &got); err != nil {
			t.Fatalf("t:%d: %v in %s", id, err, s.JSON)
		}
		for _, c := range goldenCols {
			if !sameText(got[c], want[c]) && !sameFloat(c, got[c], want[c]) {
				t.Errorf("t:%d.%s = %s, SELECT shows %s", id, c, show(got[c]), show(want[c]))
			}
		}
		h := last[fmt.Sprint("h:", id)]
		fields := map[string]string{}
		for i := 0; i+1 < len(h.Fields); i += 2 {
			fields[h.Fields[i]] = h.Fields[i+1]
		}
		for _, c := range []string{"id", "vc", "bn", "dec2", "ts", "js"} {
			v, ok := fields[c]
			var p *string
			if ok {
				p = &v
			}
			if !sameText(p, want[c]) {
				t.Errorf("h:%d.%s = %s, SELECT shows %s", id, c, show(p), show(want[c]))
			}
		}
	}
}

// selectRow is row id as the text protocol shows it, binary columns in base64.
func selectRow(t *testing.T, conn *client.Conn, id int) map[string]*string {
	t.Helper()
	var exprs []string
	for _, c := range goldenCols {
		switch {
		case binaryCols[c]:
			exprs = append(exprs, "TO_BASE64("+c+")")
		case c == "bt": // BIT is stored as its integer (README), SELECT shows bytes
			exprs = append(exprs, "CAST(bt+0 AS CHAR)")
		default:
			exprs = append(exprs, "CAST("+c+" AS CHAR CHARACTER SET utf8mb4)")
		}
	}
	res, err := conn.Execute(fmt.Sprintf("SELECT %s FROM t WHERE id = %d", strings.Join(exprs, ", "), id))
	if err != nil || res.RowNumber() != 1 {
		t.Fatalf("select row %d: %v", id, err)
	}
	out := map[string]*string{}
	for i, c := range goldenCols {
		if isNull, _ := res.IsNull(0, i); isNull {
			out[c] = nil
			continue
		}
		v, _ := res.GetString(0, i)
		out[c] = &v
	}
	return out
}

// sameFloat: MariaDB shows a DOUBLE of 1e20 with an exponent, the value
// mapping never uses one (README); the number must be the same.
func sameFloat(col string, a, b *string) bool {
	if (col != "fl" && col != "db") || a == nil || b == nil {
		return false
	}
	x, errx := strconv.ParseFloat(*a, 64)
	y, erry := strconv.ParseFloat(*b, 64)
	return errx == nil && erry == nil && x == y
}

func sameText(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}

func TestDropUnmoved(t *testing.T) {
	tomb := func(k string) event.Set { return event.Set{Key: k, Delete: true} }
	set := func(k string) event.Set { return event.Set{Key: k, JSON: []byte("{}")} }
	cases := []struct {
		name     string
		sets     []event.Set
		old, mid int
		want     []string // keys, "-" before a tombstone
	}{
		{"key not moved", []event.Set{tomb("a"), set("a")}, 0, 1, []string{"a"}},
		{"key moved", []event.Set{tomb("a"), set("b")}, 0, 1, []string{"-a", "b"}},
		{"new image deletes instead of setting", []event.Set{tomb("a"), tomb("a")}, 0, 1, []string{"-a", "-a"}},
		{"earlier rows untouched", []event.Set{tomb("a"), set("a"), tomb("a"), tomb("b"), set("a"), set("c")}, 2, 4,
			[]string{"-a", "a", "-b", "a", "c"}},
		{"two keys, one moved", []event.Set{tomb("x"), tomb("y"), set("x"), set("z")}, 0, 2, []string{"-y", "x", "z"}},
		{"no old image sets", []event.Set{set("a")}, 0, 0, []string{"a"}},
	}
	for _, c := range cases {
		var got []string
		for _, s := range dropUnmoved(c.sets, c.old, c.mid) {
			if s.Delete {
				got = append(got, "-"+s.Key)
			} else {
				got = append(got, s.Key)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
