package canal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/event"
)

func tbl(cols ...string) *schema.Table {
	t := &schema.Table{Schema: "shop", Name: "users"}
	for _, c := range cols {
		t.Columns = append(t.Columns, schema.TableColumn{Name: c, RawType: "int"})
	}
	return t
}

func at(file string, pos uint32) event.Position { return event.Position{File: file, Pos: pos} }

func TestSchemaHistoryPicksVersionInForce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cs.pos.schemas")
	h, err := LoadSchemaHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := tbl("id", "email"), tbl("pre", "id", "email")
	must(t, h.Record(t.Context(), "shop.users", at("bin.000001", 100), v1))
	must(t, h.Record(t.Context(), "shop.users", at("bin.000001", 100), tbl("id", "email"))) // same columns: no new version
	must(t, h.Record(t.Context(), "shop.users", at("bin.000002", 50), v2))

	h2, err := LoadSchemaHistory(path) // what a restart sees
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		pos  event.Position
		cols int
	}{
		{at("bin.000001", 99), 0}, // before anything recorded
		{at("bin.000001", 100), 2},
		{at("bin.000001", 999999), 2},
		{at("bin.000002", 49), 2},
		{at("bin.000002", 50), 3},
		{at("bin.000010", 4), 3},
	}
	for _, c := range cases {
		got := h2.At("shop.users", c.pos)
		if (got == nil && c.cols != 0) || (got != nil && len(got.Columns) != c.cols) {
			t.Errorf("At(%v) = %v, want %d columns", c.pos, got, c.cols)
		}
	}
	if len(h2.data["shop.users"]) != 2 {
		t.Errorf("versions = %d, want 2", len(h2.data["shop.users"]))
	}
}

func TestSchemaHistoryBoundedAndStrict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	h, _ := LoadSchemaHistory(path)
	for i := 0; i < 10; i++ {
		cols := make([]string, i+1)
		for j := range cols {
			cols[j] = string(rune('a' + j))
		}
		must(t, h.Record(t.Context(), "db.t", at("bin.000001", uint32(i)), tbl(cols...)))
	}
	if n := len(h.data["db.t"]); n != historyDepth {
		t.Fatalf("kept %d versions, want %d", n, historyDepth)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSchemaHistory(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt history: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Versions are ordered by binlog position with the file's number, not its
// name as a string: after bin.999999 comes bin.1000000.
func TestSchemaHistoryFileNumberOrder(t *testing.T) {
	h, _ := LoadSchemaHistory(filepath.Join(t.TempDir(), "h"))
	must(t, h.Record(t.Context(), "db.t", at("bin.999999", 100), tbl("id")))
	must(t, h.Record(t.Context(), "db.t", at("bin.1000000", 50), tbl("pre", "id")))
	for _, c := range []struct {
		pos  event.Position
		cols int
	}{
		{at("bin.999999", 200), 1},
		{at("bin.1000000", 49), 1},
		{at("bin.1000000", 50), 2},
	} {
		if got := h.At("db.t", c.pos); got == nil || len(got.Columns) != c.cols {
			t.Errorf("At(%v) = %v, want %d columns", c.pos, got, c.cols)
		}
	}
}

// Versions recorded out of position order (a restart from an older
// checkpoint, a DDL recorded when read and a row decoded later) are kept in
// position order, and one recorded again at a known position replaces it.
func TestSchemaHistoryOrderedByPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	h, _ := LoadSchemaHistory(path)
	must(t, h.Record(t.Context(), "db.t", at("bin.000002", 50), tbl("b", "a")))      // the DDL, read first
	must(t, h.Record(t.Context(), "db.t", at("bin.000001", 100), tbl("a", "b")))     // then an older row (restart)
	must(t, h.Record(t.Context(), "db.t", at("bin.000003", 10), tbl("c", "b", "a"))) // a later DDL
	must(t, h.Record(t.Context(), "db.t", at("bin.000003", 10), tbl("c", "a", "b"))) // the same position again: replaced
	h2, _ := LoadSchemaHistory(path)
	// The live history answers as well as one loaded from the file (loading
	// sorts, which would hide a Record that appends in arrival order).
	for name, hist := range map[string]*SchemaHistory{"live": h, "loaded": h2} {
		for _, c := range []struct {
			pos  event.Position
			cols string
		}{
			{at("bin.000001", 100), "a,b"},
			{at("bin.000002", 49), "a,b"},
			{at("bin.000002", 50), "b,a"},
			{at("bin.000003", 9), "b,a"},
			{at("bin.000003", 10), "c,a,b"},
		} {
			got := hist.At("db.t", c.pos)
			var names []string
			if got != nil {
				for _, col := range got.Columns {
					names = append(names, col.Name)
				}
			}
			if strings.Join(names, ",") != c.cols {
				t.Errorf("%s: At(%v) = %v, want columns %s", name, c.pos, names, c.cols)
			}
		}
	}
}

// In GTID mode the GTID sets order the versions: after a failover the new
// primary's file/offset say nothing about the old one's.
func TestSchemaHistoryGTIDAcrossFailover(t *testing.T) {
	h, _ := LoadSchemaHistory(filepath.Join(t.TempDir(), "h"))
	g := func(file string, pos uint32, gtid string) event.Position {
		return event.Position{File: file, Pos: pos, GTID: gtid}
	}
	must(t, h.Record(t.Context(), "db.t", g("bin.000050", 100, "0-1-10"), tbl("a")))           // old primary
	must(t, h.Record(t.Context(), "db.t", g("bin.000060", 100, "0-1-20"), tbl("a", "b")))      // old primary
	must(t, h.Record(t.Context(), "db.t", g("bin.000003", 400, "0-2-30"), tbl("c", "a", "b"))) // new primary, lower files
	for _, c := range []struct {
		pos  event.Position
		cols int
	}{
		{g("bin.000055", 4, "0-1-15"), 1}, // the old primary
		{g("bin.000061", 4, "0-1-25"), 2},
		{g("bin.000055", 4, "0-2-31"), 3}, // the new primary: its file number sits between the old ones
		{g("bin.000002", 4, "0-2-31"), 3},
	} {
		if got := h.At("db.t", c.pos); got == nil || len(got.Columns) != c.cols {
			t.Errorf("At(%v) = %v, want %d columns", c.pos, got, c.cols)
		}
	}
}
