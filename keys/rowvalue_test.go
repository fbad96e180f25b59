package keys

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/config"
)

// valueTable is a table of the golden types, built as the schema loader
// builds it, with each column's value as go-mysql's binlog decoder gives it.
func valueTable() (*schema.Table, []any) {
	t := &schema.Table{Schema: "shop", Name: "t"}
	cols := []struct {
		name, typ, coll string
		v               any
	}{
		{"id", "int(11)", "", int32(1)},
		{"u64", "bigint(20) unsigned", "", uint64(18446744073709551615)},
		{"dec2", "decimal(30,10)", "", "-0.0000000001"},
		{"fl", "float", "", float32(0.1)},
		{"ch", "char(8)", "utf8mb4_general_ci", "ab"},
		{"vc", "varchar(64)", "utf8mb4_general_ci", "héllo \"q\" \\ ✓ 日本 𝄞😀\n"},
		{"lat", "varchar(32)", "latin1_swedish_ci", "caf\xe9"},
		{"bn", "binary(4)", "", []byte{0x00, 0xff, 0x10}},
		{"bl", "blob", "", []byte{0xde, 0xad, 0xbe, 0xef}},
		{"dt3", "datetime(3)", "", "2026-11-26 10:00:00.120"},
		{"ts", "timestamp(2)", "", "2026-11-26 10:00:00.50"},
		{"tm3", "time(3)", "", "10:00:00"},
		{"yr", "year(4)", "", int(0)},
		{"en", "enum('small','x,y')", "utf8mb4_general_ci", int64(2)},
		{"bt", "bit(10)", "", int64(517)},
		{"js", "json", "", []byte(`{"a": null, "b": [1, 2.5]}`)},
		{"nul", "varchar(8)", "utf8mb4_general_ci", nil},
	}
	row := make([]any, len(cols))
	for i, c := range cols {
		t.AddColumn(c.name, c.typ, c.coll, "")
		row[i] = c.v
	}
	return t, row
}

func TestValueJSON(t *testing.T) {
	tbl, row := valueTable()
	var names []string
	for _, c := range tbl.Columns {
		names = append(names, c.Name)
	}
	v := CompileValue(tbl, &config.ValueConfig{JSON: names})
	got, _, ok := v.AppendJSON(tbl, row, nil, nil)
	if !ok {
		t.Fatal("render refused")
	}
	want := `{"id":"1","u64":"18446744073709551615","dec2":"-0.0000000001","fl":"0.1","ch":"ab",` +
		`"vc":"héllo \"q\" \\ ✓ 日本 𝄞😀\n","lat":"café","bn":"AP8QAA==","bl":"3q2+7w==",` +
		`"dt3":"2026-11-26 10:00:00.120","ts":"2026-11-26 10:00:00.50","tm3":"10:00:00.000","yr":"0000",` +
		`"en":"x,y","bt":"517","js":"{\"a\": null, \"b\": [1, 2.5]}","nul":null}`
	if string(got) != want {
		t.Errorf("json\n got %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil || m["vc"] != "héllo \"q\" \\ ✓ 日本 𝄞😀\n" {
		t.Errorf("not valid JSON or text changed: %v %q", err, m["vc"])
	}
}

func TestValueHash(t *testing.T) {
	tbl, row := valueTable()
	v := CompileValue(tbl, &config.ValueConfig{Hash: []string{"ID", "bn", "nul", "vc"}})
	got, ok := v.AppendFields(tbl, row, nil)
	want := []string{"ID", "1", "bn", "AP8QAA==", "vc", "héllo \"q\" \\ ✓ 日本 𝄞😀\n"}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %q, %v; want %q (NULL left out)", got, ok, want)
	}
}

func TestValueRefusesWhatItCannotRender(t *testing.T) {
	tbl, row := valueTable()
	gone := CompileValue(tbl, &config.ValueConfig{JSON: []string{"id", "dropped"}})
	if _, _, ok := gone.AppendJSON(tbl, row, nil, nil); ok || !reflect.DeepEqual(gone.Missing(), []string{"dropped"}) {
		t.Errorf("a dropped column must refuse the render: ok %v missing %v", ok, gone.Missing())
	}
	minimal := append([]any(nil), row...)
	minimal[5] = Absent{}
	v := CompileValue(tbl, &config.ValueConfig{Hash: []string{"id", "vc"}})
	if _, ok := v.AppendFields(tbl, minimal, nil); ok {
		t.Error("a column absent from the row image must refuse the render")
	}
	if _, ok := v.AppendFields(tbl, row[:3], nil); ok {
		t.Error("a short row image must refuse the render")
	}
}

func TestAppendJSONStringInvalidUTF8(t *testing.T) {
	got := string(appendJSONString(nil, "a\xffb\x01"))
	if got != `"a\ufffdb\u0001"` {
		t.Errorf("got %s", got)
	}
}
