package writebehind

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseEntry(t *testing.T) {
	base := func(kv ...string) map[string]any {
		m := map[string]any{"v": "1", "op": "set", "table": "shop.t", "pk": `{"id":7}`, "cols": `{"a":1.50,"b":"x","c":null,"d":true,"e":{"k":[1]}}`}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	e, err := ParseEntry("1-0", base())
	if err != nil {
		t.Fatal(err)
	}
	if e.DB != "shop" || e.Table != "t" || e.PK["id"] != json.Number("7") || e.Cols["a"] != json.Number("1.50") ||
		e.Cols["b"] != "x" || e.Cols["c"] != nil || e.Cols["d"] != true || e.Cols["e"] != `{"k":[1]}` {
		t.Errorf("decoded %+v", e)
	}
	for _, c := range []struct {
		fields map[string]any
		reason string
	}{
		{base("v", "2"), "version 1"},
		{base("op", "upsert"), "want set, del or incr"},
		{base("table", "t"), "want db.table"},
		{base("pk", "{}"), "non-empty JSON object"},
		{base("pk", "[1]"), "non-empty JSON object"},
		{base("cols", "nope"), "cols must be a JSON object"},
		{base("op", "incr", "col", "qty", "num", "1.5"), "not an integer"},
		{base("op", "incr", "num", "1"), "field col"},
	} {
		_, err := ParseEntry("9-1", c.fields)
		var pe *PoisonError
		if !errors.As(err, &pe) || pe.ID != "9-1" || !strings.Contains(pe.Reason, c.reason) {
			t.Errorf("%v: got %v, want poison with %q", c.fields, err, c.reason)
		}
	}
}

func TestCompareIDs(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0}, {"1-1", "1-0", 1}, {"9-0", "10-0", -1}, {"10-0", "9-99", 1}, {"0-0", "1-0", -1},
	}
	for _, c := range cases {
		if got := CompareIDs(c.a, c.b); got != c.want {
			t.Errorf("CompareIDs(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
