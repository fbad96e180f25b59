package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/pipeline"
)

var (
	wtSchema = []string{"CREATE TABLE DB.products (id INT PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4, " +
		"price DECIMAL(12,2), note VARCHAR(50) CHARACTER SET utf8mb4 NULL, cat INT)"}
	wtRules = `  - table: DB.products
    keys: ["product:{id}", "cat:{cat}"]
    action: set
    set_keys: ["product:{id}"]
    value: {json: [id, name, price, note]}
  - table: DB.products
    keys: ["ph:{id}"]
    action: set
    value: {hash: [name, price]}
`
)

const wtRows = 40

// wantProducts renders every row as the value mapping should have it, from
// MariaDB's SELECT: what a key must hold once cachesync has settled.
func (e *env) wantProducts() map[string]string {
	e.t.Helper()
	res := e.db.Exec(e.t, "SELECT CAST(id AS CHAR), name, CAST(price AS CHAR), note FROM `"+e.name+"`.products")
	out := map[string]string{}
	for i := range res.RowNumber() {
		var vals []any
		for c := range 4 {
			if null, _ := res.IsNull(i, c); null {
				vals = append(vals, nil)
				continue
			}
			s, _ := res.GetString(i, c)
			vals = append(vals, s)
		}
		b, _ := json.Marshal(map[string]any{"id": vals[0], "name": vals[1], "price": vals[2], "note": vals[3]})
		out["product:"+vals[0].(string)] = string(b)
	}
	return out
}

// products reads every product key, normalised through encoding/json.
func (e *env) products() map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	for id := 1; id <= wtRows; id++ {
		k := fmt.Sprint("product:", id)
		raw, err := e.rdb.Get(ctx, k).Result()
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) != nil {
			out[k] = "not JSON: " + raw
			continue
		}
		b, _ := json.Marshal(m)
		out[k] = string(b)
	}
	return out
}

// settle waits (bounded) until the cache holds exactly what MariaDB holds.
func (e *env) settle(what string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		want, got := e.wantProducts(), e.products()
		if fmt.Sprint(want) == fmt.Sprint(got) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: cache does not match MariaDB\n got %v\nwant %v", what, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWriteThroughE2E: values equal MariaDB's rows after settle; a kill -9
// mid-stream and a restart from the older checkpoint leave them right; a
// replay of an old range after newer changes moves no key back; a DDL that
// drops a value column makes the key invalidated, logged.
func TestWriteThroughE2E(t *testing.T) {
	e := newEnv(t, testenv.SharedMariaDB(t), wtSchema, wtRules, "")
	p := e.start()
	e.waitLog(p, "ready: binlog")
	from := markFilePos(e)
	for id := 1; id <= wtRows; id++ {
		e.exec("INSERT INTO DB.products VALUES (?, ?, ?, ?, ?)", id, fmt.Sprintf("Produit n°%d 𝄞", id), fmt.Sprintf("%d.50", id), nil, id%3)
	}
	e.exec("UPDATE DB.products SET note = 'ß 🎉' WHERE id <= 10")
	e.exec("DELETE FROM DB.products WHERE id IN (5, 6)")
	to := markFilePos(e)
	e.settle("after inserts")
	// Newer changes, with a kill -9 in the middle of them.
	for round := range 5 {
		e.exec("UPDATE DB.products SET price = price + 1, name = CONCAT(name, '!') WHERE id % 5 = ?", round)
		if round == 2 {
			p.kill9(t)
			p = e.start()
		}
	}
	e.exec("INSERT INTO DB.products VALUES (5, 'back 😀', 0.01, NULL, 1)")
	e.settle("after kill -9 and restart")
	if v, err := e.rdb.HGetAll(context.Background(), "ph:7").Result(); err != nil || !strings.HasSuffix(v["name"], "!") {
		t.Errorf("ph:7 = %v (%v), want the updated name", v, err)
	}
	// Replaying the old range (its inserts, older values, the deletes of 5
	// and 6) must change nothing.
	_, errOut, code := e.replay("--from", from, "--to", to)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, errOut)
	}
	e.settle("after replaying an old range")
	// A DDL drops a value column: the key is invalidated, not written without it.
	ctx := context.Background()
	e.exec("ALTER TABLE DB.products DROP COLUMN note")
	e.exec("UPDATE DB.products SET price = 11.11 WHERE id = 9")
	e.waitHash("ph:9", "price", "11.11") // cachesync is past the DDL and what it may have invalidated
	// An INSERT (an UPDATE's old image tombstones the key anyway): a
	// reader's stale fill must go, not stay or become a value without note.
	e.rdb.Set(ctx, "product:41", "cached by a reader", 0)
	e.exec("INSERT INTO DB.products VALUES (41, 'neu', 99.99, 2)")
	e.waitHash("ph:41", "price", "99.99") // the hash rule does not read the dropped column: still written
	e.waitGone(30*time.Second, "product:41")
	e.waitLog(p, "write-through value cannot be rendered")
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// waitHash waits (bounded) until field of hash key holds want.
func (e *env) waitHash(key, field, want string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.rdb.HGet(context.Background(), key, field).Val() != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s.%s = %q, want %q", key, field, e.rdb.HGet(context.Background(), key, field).Val(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWriteThroughKafka: a tailer and two consumers of one group write
// through; one consumer is killed with -9 mid-stream, so its partitions
// move to the other and its uncommitted messages come again, older than
// what the other may already have written. The cache still settles on
// MariaDB's rows.
func TestWriteThroughKafka(t *testing.T) {
	c := testenv.StartKafkaCluster(t)
	transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 2, commit_interval: 50ms}
`, c.ListenAddrs()[0], kafkaTopic)
	e := newEnv(t, testenv.SharedMariaDB(t), wtSchema, wtRules, transport)
	e.startKafkaRole(pipeline.RoleTailer)
	c1 := e.startKafkaRole(pipeline.RoleConsumer)
	c2 := e.startKafkaRole(pipeline.RoleConsumer)
	for id := 1; id <= wtRows; id++ {
		e.exec("INSERT INTO DB.products VALUES (?, ?, ?, NULL, ?)", id, fmt.Sprintf("Ware %d ü 😀", id), "1.00", id%3)
	}
	e.settle("after inserts through kafka")
	for round := range 6 {
		e.exec("UPDATE DB.products SET price = price + 1, note = CONCAT('r', ?) WHERE id % 3 = ?", round, round%3)
		if round == 2 {
			c1.kill9(t)
		}
	}
	e.exec("DELETE FROM DB.products WHERE id IN (1, 2)")
	e.settle("after a consumer was killed and its partitions moved")
	if !c2.logHas(`"msg":"reading partition"`) {
		t.Error("the surviving consumer never read a partition")
	}
}
