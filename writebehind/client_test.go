package writebehind

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestScripts(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	c := New(rdb, "wb:s")
	row := Row{Table: "shop.stock", PK: map[string]any{"sku": "a"}}

	id, err := c.Set(ctx, "stock:a", "2", 0, row, map[string]any{"qty": 2, "note": nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IncrBy(ctx, "stock:a", -1, 0, row, "qty"); err != nil {
		t.Fatal(err)
	}
	r, err := c.IncrBy(ctx, "stock:a", -2, 0, row, "qty")
	if err != nil || r.Applied || r.Value != 1 {
		t.Fatalf("below the floor: %+v %v; want refused at 1", r, err)
	}
	if _, err := c.IncrBy(ctx, "stock:none", 1, 0, row, "qty"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("uncached key: %v, want ErrNotCached", err)
	}
	rdb.Set(ctx, "stock:text", "abc", 0)
	if _, err := c.IncrBy(ctx, "stock:text", 1, 0, row, "qty"); err == nil {
		t.Fatal("IncrBy on text must fail")
	}
	if _, err := c.Delete(ctx, "stock:a", row); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "stock:a").Result(); n != 0 {
		t.Error("Delete left the key")
	}
	msgs, err := rdb.XRange(ctx, "wb:s", "-", "+").Result()
	if err != nil || len(msgs) != 3 || msgs[0].ID != id {
		t.Fatalf("stream: %v %v; want set, incr, del (refused and failed calls queue nothing)", msgs, err)
	}
	var ops []string
	for _, m := range msgs {
		e, err := ParseEntry(m.ID, m.Values)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, e.Op)
	}
	if ops[0] != OpSet || ops[1] != OpIncr || ops[2] != OpDel {
		t.Errorf("ops %v", ops)
	}
	if e, _ := ParseEntry(msgs[1].ID, msgs[1].Values); e.Cols["qty"] != json.Number("1") {
		t.Errorf("incr entry carries %v, want the new absolute value 1", e.Cols)
	}
}

// TestEvalSHA calls the scripts the way applications in other languages do:
// SCRIPT LOAD once, then EVALSHA with the documented KEYS (the stamp key
// written out, as the README documents it) and ARGV.
func TestEvalSHA(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := context.Background()
	sha, err := rdb.ScriptLoad(ctx, IncrByScript()).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, "stock:1", "1", 0)
	res, err := rdb.EvalSha(ctx, sha, []string{"stock:1", "wb:s", "stock:1#cachesync-stamp"}, -1, 0, "shop.stock", `{"id":1}`, "qty").Slice()
	if err != nil || len(res) != 3 || res[0].(int64) != 1 || res[1].(string) != "0" {
		t.Fatalf("EVALSHA incrby: %v %v", res, err)
	}
	res, err = rdb.EvalSha(ctx, sha, []string{"stock:1", "wb:s", "stock:1#cachesync-stamp"}, -1, 0, "shop.stock", `{"id":1}`, "qty").Slice()
	if err != nil || res[0].(int64) != 0 {
		t.Fatalf("sold out must be refused: %v %v", res, err)
	}
	setSHA, _ := rdb.ScriptLoad(ctx, SetScript()).Result()
	if _, err := rdb.EvalSha(ctx, setSHA, []string{"user:1", "wb:u", "user:1#cachesync-stamp"}, `{"name":"A"}`, 60000, "shop.users", `{"id":1}`, `{"name":"A"}`).Text(); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := rdb.PTTL(ctx, "user:1").Result(); ttl <= 0 {
		t.Errorf("TTL %v, want about 60s", ttl)
	}
	delSHA, _ := rdb.ScriptLoad(ctx, DeleteScript()).Result()
	if _, err := rdb.EvalSha(ctx, delSHA, []string{"user:1", "wb:u", "user:1#cachesync-stamp"}, "shop.users", `{"id":1}`).Text(); err != nil {
		t.Fatal(err)
	}
}
