package config

import "testing"

func TestTemplateRender(t *testing.T) {
	vals := map[string]string{"id": "42", "sku": "tee-ü"}
	value := func(col string) (string, bool) { v, ok := vals[col]; return v, ok }
	cases := []struct {
		tpl, want string
		ok        bool
	}{
		{"item:{id}", "item:42", true},
		{"{{stock}}:{sku}:{id}", "{stock}:tee-ü:42", true},
		{"plain", "plain", true},
		{"item:{missing}", "", false},
	}
	for _, c := range cases {
		tpl, err := ParseTemplate(c.tpl)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := tpl.Render(value)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q %v, want %q %v", c.tpl, got, ok, c.want, c.ok)
		}
	}
}
