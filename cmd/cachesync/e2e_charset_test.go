package main

import (
	"context"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/writebehind"
)

// latin1Server is a private MariaDB whose default character set is latin1,
// as on a server without a character-set-server setting: go-mysql's
// handshake asks for a collation MariaDB does not know, so every session
// that does not send SET NAMES itself talks latin1.
func latin1Server(t *testing.T) *testenv.MariaDB {
	t.Helper()
	return testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{
		"character_set_server=latin1", "collation_server=latin1_swedish_ci"}})
}

// utf8Conn is the test's own connection, which says utf8mb4 itself.
func utf8Conn(t *testing.T, db *testenv.MariaDB) *client.Conn {
	t.Helper()
	c := db.Conn(t)
	if _, err := c.Execute("SET NAMES utf8mb4"); err != nil {
		t.Fatal(err)
	}
	return c
}

const skuSchema = "CREATE TABLE DB.skus (sku VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(64) NULL) DEFAULT CHARSET=utf8mb4"

const skuRules = `  - table: DB.skus
    keys: ["sku:{sku}"]
    write_behind: {stream: "wb:skus", keys: ["sku:{sku}"], interval: 50ms}
`

// TestWriteBehindNonASCII: on a latin1-default server, a write-behind Set
// of an existing non-ASCII primary key updates that row (no second,
// double-encoded row), and new keys and values with 2-, 3- and 4-byte
// characters are stored byte-exact. A backfill of the table then deletes
// the very keys the application uses.
func TestWriteBehindNonASCII(t *testing.T) {
	db := latin1Server(t)
	e := newEnv(t, db, []string{skuSchema}, skuRules, "")
	conn := utf8Conn(t, db)
	table := "`" + e.name + "`.skus"
	if _, err := conn.Execute("INSERT INTO "+table+" (sku, name) VALUES (?, ?)", "sku-ü-00005", "old"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"sku-ü-00005": "例え 😀 ü", "sku-例え-😀": "naïve 😀"}
	ctx := context.Background()
	c := writebehind.New(e.rdb, "wb:skus")
	for sku, name := range want {
		row := writebehind.Row{Table: e.name + ".skus", PK: map[string]any{"sku": sku}}
		if _, err := c.Set(ctx, "sku:"+sku, name, 0, row, map[string]any{"name": name}); err != nil {
			t.Fatal(err)
		}
	}
	p := e.startRole("flusher", "flusher active")
	e.waitGoneStream(30*time.Second, "wb:skus")
	p.stop(t)
	r, err := conn.Execute("SELECT sku, name FROM " + table + " ORDER BY sku")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i := range r.RowNumber() {
		sku, _ := r.GetString(i, 0)
		name, _ := r.GetString(i, 1)
		got[sku] = name
	}
	if len(got) != len(want) {
		t.Errorf("MySQL holds %d rows %q; want %d rows %q (a double-encoded key makes a second row)", len(got), got, len(want), want)
	}
	for sku, name := range want {
		if got[sku] != name {
			t.Errorf("row %q: name %q in MySQL; want %q", sku, got[sku], name)
		}
	}
	keys := []string{"sku:sku-ü-00005", "sku:sku-例え-😀"}
	e.setKeys(keys...)
	if _, errOut, code := e.backfill("--table", e.name+".skus"); code != 0 {
		t.Fatalf("backfill: exit %d\n%s", code, errOut)
	}
	if left := e.exists(keys...); len(left) > 0 {
		t.Fatalf("backfill left %q: it rendered the keys from other bytes than the application's", left)
	}
}

// TestTailerNonASCIISchema: on a latin1-default server, the tailer reads a
// table's schema over go-mysql canal's own connection; ENUM members and
// column names in it must come back as the application wrote them, or the
// keys rendered from them are not the application's keys. The backfill's
// own connection reads the same schema and must get it right too.
func TestTailerNonASCIISchema(t *testing.T) {
	tailerNonASCIISchema(t, latin1Server(t), "")
}

// TestTailerNonASCIISchemaTLS: the same over TLS, where the handshake is
// encrypted and cannot be rewritten: canal's schema connection gets its
// SET NAMES after NewCanal.
func TestTailerNonASCIISchemaTLS(t *testing.T) {
	pki := testenv.NewPKI(t)
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{ExtraConfig: append(pki.MariaDBConfig(),
		"character_set_server=latin1", "collation_server=latin1_swedish_ci")})
	tailerNonASCIISchema(t, db, pki.CAFile)
}

func tailerNonASCIISchema(t *testing.T, db *testenv.MariaDB, caFile string) {
	e := newEnv(t, db, nil, `  - table: DB.kinds
    keys: ["kind:{id}:{größe}"]
`, "")
	if caFile != "" {
		rewriteConfig(t, e.cfg, "user: root,", "user: root, tls: {ca_file: "+caFile+"},")
	}
	conn := utf8Conn(t, db) // the test's statements are utf8mb4 too
	table := "`" + e.name + "`.kinds"
	for _, q := range []string{"CREATE TABLE " + table + " (id INT PRIMARY KEY, `größe` ENUM('klein', 'groß', '例え') NOT NULL) DEFAULT CHARSET=utf8mb4",
		"INSERT INTO " + table + " VALUES (1, 'groß'), (2, '例え')"} {
		if _, err := conn.Execute(q); err != nil {
			t.Fatal(err)
		}
	}
	p := e.start()
	keys := []string{"kind:1:groß", "kind:2:例え", "kind:1:klein", "kind:2:klein"}
	e.setKeys(keys...)
	if _, err := conn.Execute("UPDATE " + table + " SET `größe` = 'klein'"); err != nil {
		t.Fatal(err)
	}
	e.waitGone(30*time.Second, keys...)
	p.stop(t)
	// The backfill reads the schema over its own connection: a column name
	// or ENUM member that comes back latin1 there is not the template's.
	e.setKeys(keys[2:]...)
	if _, errOut, code := e.backfill("--table", e.name+".kinds"); code != 0 {
		t.Fatalf("backfill: exit %d (its schema read must talk source.charset)\n%s", code, errOut)
	}
	if left := e.exists(keys[2:]...); len(left) > 0 {
		t.Fatalf("backfill left %q: it read the schema in another charset than the application's", left)
	}
}
