package keys

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/schema"
)

func TestAppendValue(t *testing.T) {
	enum := &schema.TableColumn{Type: schema.TYPE_ENUM, EnumValues: []string{"small", "medium", "large"}}
	set := &schema.TableColumn{Type: schema.TYPE_SET, SetValues: []string{"a", "b", "c", "d"}}
	bit := &schema.TableColumn{Type: schema.TYPE_BIT}
	num := &schema.TableColumn{Type: schema.TYPE_NUMBER}
	unsigned := &schema.TableColumn{Type: schema.TYPE_NUMBER, IsUnsigned: true}
	cases := []struct {
		name string
		col  *schema.TableColumn
		v    any
		want string
		null bool
	}{
		{"nil is NULL", num, nil, "", true},
		{"int8", num, int8(-128), "-128", false},
		{"int64 min", num, int64(-9223372036854775808), "-9223372036854775808", false},
		{"uint64 max", unsigned, uint64(18446744073709551615), "18446744073709551615", false},
		{"unsigned seen as negative int64", unsigned, int64(-1), "18446744073709551615", false},
		// A table map's rows (dropped table) may come without canal's
		// unsigned conversion: the column's own width decides.
		{"unsigned tinyint as int8", unsigned, int8(-1), "255", false},
		{"unsigned smallint as int16", unsigned, int16(-1), "65535", false},
		{"unsigned int as int32", unsigned, int32(-1), "4294967295", false},
		{"unsigned mediumint as int32", &schema.TableColumn{Type: schema.TYPE_MEDIUM_INT, IsUnsigned: true}, int32(-1), "16777215", false},
		{"signed mediumint", &schema.TableColumn{Type: schema.TYPE_MEDIUM_INT}, int32(-1), "-1", false},
		{"decimal string kept exact", num, "-1234567890.05", "-1234567890.05", false},
		{"float32 shortest", num, float32(0.1), "0.1", false},
		{"float64 no exponent", num, 1e20, "100000000000000000000", false},
		{"float64 small", num, 0.000001, "0.000001", false},
		{"string bytes as is", num, "caf\xe9", "caf\xe9", false},
		{"multi-byte", num, "日本", "日本", false},
		{"blob bytes", num, []byte{0xde, 0xad, 0x00}, "\xde\xad\x00", false},
		{"empty string is a value", num, "", "", false},
		{"enum name", enum, int64(2), "medium", false},
		{"enum invalid member", enum, int64(0), "", false},
		{"set names", set, int64(0b0101), "a,c", false},
		{"set empty", set, int64(0), "", false},
		{"bit as unsigned", bit, int64(517), "517", false},
		{"year", num, 2026, "2026", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := AppendValue([]byte("p:"), c.col, c.v)
			if ok == c.null {
				t.Fatalf("ok = %v, want NULL = %v", ok, c.null)
			}
			if !c.null && string(got) != "p:"+c.want {
				t.Fatalf("got %q, want %q", got, "p:"+c.want)
			}
		})
	}
}
