package canal

import (
	"testing"
)

// canal converts integers to unsigned by the column positions of the
// schema it used; read by name, a column may have moved: the conversion
// is undone, or done, by the binlog's own signedness.
func TestSignConversions(t *testing.T) {
	for _, c := range []struct {
		in, signed any
		medium     bool
	}{
		{uint8(255), int8(-1), false},
		{uint16(65535), int16(-1), false},
		{uint32(4294967295), int32(-1), false},
		{uint32(0xFFFFFF), int32(-1), true}, // MEDIUMINT: canal's 3-byte conversion
		{uint32(0x7FFFFF), int32(0x7FFFFF), true},
		{uint64(18446744073709551615), int64(-1), false},
		{uint(5), int(5), false},
		{"text", "text", false},
	} {
		if got := toSigned(c.in, c.medium); got != c.signed {
			t.Errorf("toSigned(%T %v, medium %v) = %T %v, want %T %v", c.in, c.in, c.medium, got, got, c.signed, c.signed)
		}
		if got := toUnsigned(c.signed, c.medium); got != c.in {
			t.Errorf("toUnsigned(%T %v, medium %v) = %T %v, want %T %v", c.signed, c.signed, c.medium, got, got, c.in, c.in)
		}
	}
}
