package source

import (
	"github.com/cachesync/cachesync/internal/testenv"
	"strings"
	"testing"
)

func TestMissingWriteBehindPrivileges(t *testing.T) {
	rules := testenv.Rules(t, "shop.items wb=wb:items;shop.users")
	const acct = "`cs`@`%`"
	for _, c := range []struct {
		name   string
		grants []string
		want   []string // one per missing table, in order
	}{
		{"none", []string{"GRANT SELECT ON `shop`.* TO " + acct}, []string{
			"lacks INSERT, UPDATE, DELETE ON shop.items (the flusher writes the rows the cache queued): GRANT INSERT, UPDATE, DELETE ON `shop`.`items` TO `cs`@`%`",
			"lacks INSERT, UPDATE, CREATE ON shop.cachesync_wb_offsets"}},
		{"database-level", []string{"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.* TO " + acct}, nil},
		{"all", []string{"GRANT ALL PRIVILEGES ON *.* TO " + acct}, nil},
		{"pattern", []string{"GRANT INSERT, UPDATE, DELETE, CREATE ON `sh%`.* TO " + acct}, nil},
		{"table-level", []string{"GRANT INSERT, UPDATE, DELETE ON `shop`.`items` TO " + acct,
			"GRANT INSERT, UPDATE ON `shop`.`cachesync_wb_offsets` TO " + acct},
			[]string{"lacks CREATE ON shop.cachesync_wb_offsets"}},
		{"columns only", []string{"GRANT INSERT (`id`), UPDATE, DELETE ON `shop`.`items` TO " + acct,
			"GRANT INSERT, UPDATE, CREATE ON `shop`.`cachesync_wb_offsets` TO " + acct},
			[]string{"lacks INSERT ON shop.items"}},
	} {
		got, roles := MissingWriteBehindPrivileges(c.grants, rules, "")
		if roles || len(got) != len(c.want) {
			t.Errorf("%s: got %q (roles %v), want %d lines", c.name, got, roles, len(c.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("%s: line %d %q does not contain %q", c.name, i, got[i], c.want[i])
			}
		}
	}
	if got, _ := MissingWriteBehindPrivileges(nil, testenv.Rules(t, "shop.users"), ""); len(got) != 0 {
		t.Errorf("no write-behind rule, yet %q", got)
	}
}
