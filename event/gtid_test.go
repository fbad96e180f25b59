package event

import "testing"

// The Kafka consumer merges messages of several transactions into one
// batch: the replicas must have applied the highest of each domain (uuid).
func TestMergeTrxGTIDs(t *testing.T) {
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	for _, c := range []struct{ a, b, want string }{
		{"", "0-1-5", "0-1-5"},
		{"0-1-5", "", "0-1-5"},
		{"0-1-5", "0-1-7", "0-0-7"},
		{"0-1-7", "0-2-5", "0-0-7"},
		{"0-1-7", "1-1-2", "0-0-7,1-0-2"},
		{"0-0-7,1-0-2", "1-3-9", "0-0-7,1-0-9"},
		{u + ":5", u + ":9", u + ":9"},
		{u + ":9", "0-1-1", u + ":9,0-0-1"},
	} {
		if got := MergeTrxGTIDs(c.a, c.b); got != c.want {
			t.Errorf("MergeTrxGTIDs(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"0-1", u + ":x", "a-b-c", "0-1-2-3"} {
		if _, err := ParseTrxGTIDs(bad); err == nil {
			t.Errorf("ParseTrxGTIDs(%q) accepted", bad)
		}
	}
}
