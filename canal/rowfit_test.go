package canal

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/schema"
)

func rawTable(types ...string) *schema.Table {
	t := &schema.Table{Schema: "d", Name: "t"}
	for i, ty := range types {
		t.AddColumn(string(rune('a'+i)), ty, "", "")
	}
	return t
}

// The decoded values' Go types show a schema that no longer matches the
// rows even when the column count is the same.
func TestMisfit(t *testing.T) {
	users := rawTable("bigint(20) unsigned", "varchar(191)", "varchar(100)", "int(11)")
	for _, c := range []struct {
		name string
		t    *schema.Table
		rows [][]any
		want int
	}{
		{"fits", users, [][]any{{uint64(1), "a@x.io", "Ann", int32(0)}}, -1},
		{"NULLs fit anything", users, [][]any{{uint64(1), nil, nil, nil}}, -1},
		{"reorder: name first", users, [][]any{{"Ann", uint64(1), "a@x.io", int32(0)}}, 0},
		{"judged by the first non-NULL value", users, [][]any{{uint64(1), nil, "Ann", int32(0)}, {uint64(2), int64(5), "Bo", int32(0)}}, 1},
		{"other width", users, [][]any{{uint64(1), "a", "b", int64(0)}}, 3},
		{"column count", users, [][]any{{uint64(1), "a", "b"}}, 3},
		{"every kind", rawTable("tinyint(4)", "smallint(6)", "mediumint(9)", "year(4)", "float", "double", "decimal(10,2)",
			"enum('a','b')", "set('a')", "bit(3)", "char(2)", "varbinary(4)", "text", "longblob", "date", "time(3)", "datetime", "timestamp", "json", "inet6"),
			[][]any{{int8(1), uint16(2), int32(3), 2026, float32(1), float64(2), "1.50", int64(1), int64(1), int64(5), "ab", "\x00",
				[]byte("t"), []byte{0}, "2026-01-01", "10:00:00.000", "2026-01-01 00:00:00", "2026-01-01 00:00:00", []byte("{}"), "::1"}}, -1},
		{"text is not varchar", rawTable("varchar(10)"), [][]any{{[]byte("x")}}, 0},
		{"varchar is not text", rawTable("text"), [][]any{{"x"}}, 0},
		{"enum is not int", rawTable("int(11)"), [][]any{{int64(1)}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := misfit(c.t, c.rows); got != c.want {
				t.Fatalf("misfit = %d, want %d", got, c.want)
			}
		})
	}
}
