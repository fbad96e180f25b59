package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestBackfillBadInput(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	schema := []string{
		"CREATE TABLE DB.items (a INT NOT NULL, b VARCHAR(8) NOT NULL, c INT NOT NULL, PRIMARY KEY (a, b))",
		"CREATE TABLE DB.nopk (id INT NOT NULL, c INT)",
		"CREATE TABLE DB.unmapped (id INT PRIMARY KEY)",
	}
	rules := `  - table: DB.items
    keys: ["item:{a}:{b}"]
  - table: DB.nopk
    keys: ["nopk:{id}"]
  - table: DB.gone
    keys: ["gone:{id}"]
`
	e := newEnv(t, db, schema, rules, "")
	e.exec("INSERT INTO DB.items VALUES (1, 'x', 1), (2, 'y', 2)")
	e.exec("INSERT INTO DB.nopk VALUES (1, 1)")
	sentinel := []string{"item:1:x", "item:2:y", "nopk:1"}
	e.setKeys(sentinel...)
	items := e.name + ".items"
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"table with no rule", []string{"--table", e.name + ".unmapped"}, []string{"no rule in the config maps this table"}},
		{"table that does not exist", []string{"--table", e.name + ".gone"}, []string{"no such table"}},
		{"where the server rejects", []string{"--table", items, "--where", "nosuchcolumn = 1"}, []string{"--where", "rejects", "nosuchcolumn"}},
		{"where with a syntax error", []string{"--table", items, "--where", "a = = 1"}, []string{"--where", "rejects"}},
		{"where that tries to write", []string{"--table", items, "--where", "1); DELETE FROM t WHERE (1"}, []string{"--where", "rejects"}},
		{"resume without a state file", []string{"--table", items, "--resume"}, []string{"no state file"}},
		{"not db.table", []string{"--table", "items"}, []string{"db.table"}},
	} {
		_, errOut, code := e.backfill(append(c.args, "--state", e.statePath())...)
		e.wantRefused(c.name, code, errOut, sentinel, c.want...)
	}
	if _, err := os.Stat(e.statePath()); err == nil {
		t.Error("a refused backfill wrote a state file")
	}
	_, errOut, code := e.backfill("--chunk", "0", "--table", items)
	if code != 2 || !strings.Contains(errOut, "--chunk") {
		t.Errorf("--chunk 0: exit %d\n%s", code, errOut)
	}

	// A table without a primary key is read in one query: it works, and
	// cannot resume.
	nopk := e.name + ".nopk"
	unfinished := `{"version":1,"table":"` + nopk + `","where":"","cursor":[],"rows":1,"done":false}`
	if err := os.WriteFile(e.statePath(), []byte(unfinished), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = e.backfill("--table", nopk, "--state", e.statePath(), "--resume")
	e.wantRefused("--resume on a table without a primary key", code, errOut, sentinel, "has no primary key", "cannot resume", "without --resume")
	os.Remove(e.statePath())
	if _, errOut, code = e.backfill("--table", nopk, "--state", e.statePath()); code != 0 {
		t.Fatalf("backfill of a table without a primary key: exit %d\n%s", code, errOut)
	}
	if left := e.exists("nopk:1"); len(left) != 0 {
		t.Errorf("the backfill of %s left %q", nopk, left)
	}
}

func TestBackfillThroughKafka(t *testing.T) {
	t.Parallel()
	broker := testenv.StartKafka(t)
	e := newEnv(t, testenv.SharedMariaDB(t), []string{bfSchema}, bfRules, rpKafka(broker))
	e.exec("INSERT INTO DB.items (a, b, c) VALUES (1, 'k1', 11)")
	e.setKeys("item:1:k1")
	_, errOut, code := e.backfill("--table", e.name+".items", "--state", e.statePath())
	if code != 0 || !strings.Contains(errOut, "published to kafka") {
		t.Fatalf("backfill through kafka: exit %d\n%s", code, errOut)
	}
	if _, published := topicRows(t, broker, 2); !published["item:1:k1"] {
		t.Errorf("item:1:k1 not published: %v", published)
	}
	if _, errOut, code = e.backfill("--table", e.name+".items", "--state", e.statePath()+".direct", "--direct"); code != 0 {
		t.Fatalf("--direct: exit %d\n%s", code, errOut)
	}
	if left := e.exists("item:1:k1"); len(left) != 0 {
		t.Errorf("--direct left %q", left)
	}
}
