package keys

import (
	"slices"
	"testing"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
)

// echoOut records plain and guarded keys; every change is an echo.
type echoOut struct{ plain, guarded []string }

func (o *echoOut) Add(k []byte)        { o.plain = append(o.plain, string(k)) }
func (o *echoOut) Echo(string) bool    { return true }
func (o *echoOut) AddGuarded(k []byte) { o.guarded = append(o.guarded, string(k)) }

// One Render serves the tailer and the backfill: NULLs and empty keys are
// skipped and counted, an absent column is skipped without counting a NULL,
// owned templates of an echo go to AddGuarded.
func TestRender(t *testing.T) {
	tbl := testenv.Table("shop", "users",
		"id", "bigint(20)", "",
		"email", "varchar(255)", "utf8mb4_general_ci")
	rule := testenv.Rule(t, "shop.users", nil, "user:{id}", "{email}")
	kt := Compile(tbl, []*config.Rule{rule}, metrics.New(nil))
	var got []string
	add := AddFunc(func(k []byte) { got = append(got, string(k)) })

	if n := kt.RenderAll([]any{int64(1), "a@x"}, add); n != (Counts{}) || !slices.Equal(got, []string{"user:1", "a@x"}) {
		t.Errorf("full row: keys %q, counts %+v", got, n)
	}
	got = nil
	if n := kt.RenderAll([]any{int64(2), nil}, add); n != (Counts{Null: 1}) || !slices.Equal(got, []string{"user:2"}) {
		t.Errorf("NULL email: keys %q, counts %+v", got, n)
	}
	got = nil
	if n := kt.RenderAll([]any{int64(3), ""}, add); n != (Counts{Empty: 1}) || !slices.Equal(got, []string{"user:3"}) {
		t.Errorf("empty email: keys %q, counts %+v", got, n)
	}
	got = nil
	if n := kt.RenderAll([]any{int64(4), Absent{}}, add); n != (Counts{}) || !slices.Equal(got, []string{"user:4"}) {
		t.Errorf("absent email: keys %q, counts %+v", got, n)
	}
	if !kt.Uses(0) || !kt.Uses(1) || kt.Uses(2) {
		t.Errorf("Uses: %v %v %v", kt.Uses(0), kt.Uses(1), kt.Uses(2))
	}

	owned := testenv.Rule(t, "shop.users", nil, "user:{id}", "{email}")
	owned.WriteBehind.Stream, owned.WriteBehind.Owned = "wb", []int{0}
	tbl.PKColumns = []int{0}
	out := &echoOut{}
	Compile(tbl, []*config.Rule{owned}, metrics.New(nil)).RenderAll([]any{int64(5), "e@x"}, out)
	if !slices.Equal(out.guarded, []string{"user:5"}) || !slices.Equal(out.plain, []string{"e@x"}) {
		t.Errorf("echo: guarded %q, plain %q", out.guarded, out.plain)
	}
}

func TestCompileStrictRefusesAMissingColumn(t *testing.T) {
	tbl := testenv.Table("shop", "users", "id", "bigint(20)", "")
	rule := testenv.Rule(t, "shop.users", nil, "user:{id}", "user:{nope}")
	if _, err := CompileStrict(tbl, []*config.Rule{rule}, metrics.New(nil)); err == nil {
		t.Fatal("a template naming a missing column compiled")
	}
	if kt := Compile(tbl, []*config.Rule{rule}, metrics.New(nil)); len(kt.Missing()) != 1 || kt.Missing()[0].Column != "nope" {
		t.Fatalf("Missing = %+v", kt.Missing())
	}
}
