package kafkamsg

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func commitTime() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 120000000, time.UTC) }

// sample is a valid message; tests change one thing at a time.
func sample() Message {
	return Message{
		Source: "shop-primary", DB: "shop", Table: "users", Op: event.OpUpdate,
		Row:        RowIdentity("shop", "users", "42"),
		Pos:        event.Position{File: "mysql-bin.000042", Pos: 1337},
		CommitTime: commitTime(),
		Keys:       []string{"user:42", "user:email:ann@example.com"},
	}
}

// equal compares messages with time.Equal for the commit time.
func equal(a, b Message) bool {
	if !a.CommitTime.Equal(b.CommitTime) {
		return false
	}
	a.CommitTime, b.CommitTime = time.Time{}, time.Time{}
	if len(a.Keys) == 0 && len(b.Keys) == 0 {
		a.Keys, b.Keys = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// The golden files are the README's examples: Encode must produce them
// byte for byte, and Decode must read them back.
func TestGolden(t *testing.T) {
	gtid := sample()
	gtid.Op, gtid.Row = event.OpInsert, RowIdentity("shop", "order_items", "7", "3")
	gtid.Table = "order_items"
	gtid.Pos = event.Position{File: "mariadb-bin.000003", Pos: 4242, GTID: "0-1-1200"}
	gtid.Keys = []string{"order:7", "order:7:items", `page:{{"a"&<b>}}`}
	binary := sample()
	binary.Op, binary.Table = event.OpDelete, "sessions"
	binary.Row = RowIdentity("shop", "sessions", "\xff\x00\xfe")
	binary.Keys = []string{"session:\xff\x00\xfe", "session:user:42", "tab\tnew\nline\x00nul"}
	binary.CommitTime = time.Date(2026, 11, 26, 10, 0, 1, 0, time.FixedZone("CET", 3600)) // written in UTC
	rawRow := binary
	rawRow.Row = "shop.sessions:\xff\x00\xfe" // a publisher may use raw bytes
	flush := sample()                         // the write-behind flusher's own write: its owned key is guarded
	flush.Table, flush.Row = "stock", RowIdentity("shop", "stock", "tee-42")
	flush.Keys, flush.Guarded = []string{"stock:tee-42", "product:tee-42:page"}, []bool{true, false}
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"update", sample()},
		{"insert_gtid", gtid},
		{"delete_binary_keys", binary},
		{"binary_row", rawRow},
		{"update_guarded", flush},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name+".json")
			got, err := Encode(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want = []byte(strings.TrimSuffix(string(want), "\n"))
			if string(got) != string(want) {
				t.Fatalf("Encode:\n got %s\nwant %s", got, want)
			}
			if !json.Valid(got) {
				t.Fatalf("not valid JSON: %s", got)
			}
			back, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(back, tc.m) {
				t.Fatalf("Decode:\n got %#v\nwant %#v", back, tc.m)
			}
		})
	}
}

// Keys that are hard for JSON come back byte for byte, and encoding/json
// reads the UTF-8 ones the same way (other consumers use their stock decoder).
func TestKeysRoundTrip(t *testing.T) {
	keys := []string{
		"plain", "quote\"back\\slash/", "ctl\x00\x01\x1f\x7f", "\u2028\u2029", "emoji:😀", "é",
		"\xff", "\xc3", "a\xed\xa0\x80b", // a lone surrogate encoded in UTF-8 is not valid UTF-8
		"{\"b64\":\"AA==\"}", "\ufffd",
	}
	m := sample()
	m.Keys = keys
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Keys, keys) {
		t.Fatalf("keys:\n got %q\nwant %q", got.Keys, keys)
	}
	var std struct{ Keys []any }
	if err := json.Unmarshal(b, &std); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	for i, k := range std.Keys {
		if s, ok := k.(string); ok && s != keys[i] {
			t.Errorf("encoding/json reads key %d as %q, want %q", i, s, keys[i])
		}
	}
}

// What another publisher may legitimately write is read the same way.
func TestDecodeOtherPublishers(t *testing.T) {
	want := sample()
	want.Keys = []string{"é😀", "user:42"}
	in := `  {"keys": ["\u00e9\ud83d\ude00", {"b64": "dXNlcjo0Mg=="}], "ts": "2026-11-26T11:00:00.12+01:00",
	"row": "shop.users:\"42\"", "pos": 1337, "file": "mysql-bin.000042", "op": "update",
	"table": "users", "db": "shop", "source": "shop-primary", "v": 1, "gtid": "", "future_field": {"x": [1]}}  `
	got, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, want) || got.CommitTime.Location() != time.UTC {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid, _ := Encode(sample())
	// with replaces one field's raw value ("" drops it) in the valid message.
	with := func(field, raw string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		if raw == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(raw)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name, in, field, reason string
	}{
		{"empty", "", "", "not valid JSON"},
		{"not JSON", "hello", "", "not valid JSON"},
		{"truncated", string(valid[:len(valid)-3]), "", "not valid JSON"},
		{"array", "[1]", "", "not a JSON object"},
		{"trailing", string(valid) + "{}", "", "data after the JSON object"},
		{"invalid UTF-8", strings.Replace(string(valid), "users", "us\xffers", 1), "", "not valid UTF-8"},
		{"duplicate", strings.Replace(string(valid), `"db":"shop"`, `"db":"shop","db":"other"`, 1), "db", "appears twice"},
		{"no version", with("v", ""), "v", "missing"},
		{"version 0", with("v", "0"), "v", "version 0 is not supported"},
		{"version negative", with("v", "-3"), "v", "version -3 is not supported"},
		{"version string", with("v", `"1"`), "v", "must be a number, got a string"},
		{"version float", with("v", "1.0"), "v", "must be an integer"},
		{"no source", with("source", ""), "source", "missing"},
		{"empty source", with("source", `""`), "source", "must not be empty"},
		{"db number", with("db", "7"), "db", "must be a string, got a number"},
		{"table null", with("table", "null"), "table", "must be a string, got null"},
		{"op unknown", with("op", `"upsert"`), "op", `"upsert" is not insert, update or delete`},
		{"op missing", with("op", ""), "op", "missing"},
		{"no file", with("file", ""), "file", "missing"},
		{"pos string", with("pos", `"4"`), "pos", "must be an integer"},
		{"pos negative", with("pos", "-1"), "pos", "must be an integer"},
		{"pos too big", with("pos", "4294967296"), "pos", "must be an integer"},
		{"pos fraction", with("pos", "4.5"), "pos", "must be an integer"},
		{"gtid number", with("gtid", "12"), "gtid", "must be a string"},
		{"no ts", with("ts", ""), "ts", "missing"},
		{"ts not RFC 3339", with("ts", `"2026-11-26 10:00:00"`), "ts", "RFC 3339"},
		{"ts zero", with("ts", `"0001-01-01T00:00:00Z"`), "ts", "zero time"},
		{"ts year past 9999 in UTC", with("ts", `"9999-12-31T23:59:00-01:00"`), "ts", "year 10000"},
		{"no row", with("row", ""), "row", "missing"},
		{"empty row", with("row", `""`), "row", "must not be empty"},
		{"no keys", with("keys", ""), "keys", "missing"},
		{"keys empty", with("keys", "[]"), "keys", "at least one key"},
		{"keys object", with("keys", `{"a":1}`), "keys", "must be an array, got an object"},
		{"key number", with("keys", `["a",1]`), "keys[1]", "got a number"},
		{"key empty", with("keys", `["a",""]`), "keys[1]", "empty key"},
		{"key b64 empty", with("keys", `[{"b64":""}]`), "keys[0]", "empty key"},
		{"key b64 bad", with("keys", `[{"b64":"*"}]`), "keys[0]", "not standard base64"},
		{"key b64 no padding", with("keys", `[{"b64":"3q0"}]`), "keys[0]", "not standard base64"},
		{"key b64 not string", with("keys", `[{"b64":5}]`), "keys[0]", "b64: must be a string"},
		{"key b64 extra member", with("keys", `[{"b64":"AA==","hex":"00"}]`), "keys[0]", `exactly one member, "b64"`},
		{"key b64 duplicate", with("keys", `[{"b64":"AA==","b64":"AQ=="}]`), "keys[0]", "appears twice"},
		{"key lone high surrogate", with("keys", `["a\ud800b"]`), "keys[0]", "half a UTF-16 surrogate pair"},
		{"key lone low surrogate", with("keys", `["\udc00"]`), "keys[0]", "half a UTF-16 surrogate pair"},
		{"key high then non-low", with("keys", `["\ud800\u0041"]`), "keys[0]", "half a UTF-16 surrogate pair"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%s) = %v, want a *DecodeError", tc.in, err)
			}
			if de.Field != tc.field || !strings.Contains(de.Error(), tc.reason) {
				t.Fatalf("Decode(%s):\n got field %q: %v\nwant field %q and %q", tc.in, de.Field, err, tc.field, tc.reason)
			}
		})
	}
}

// Encode refuses what Decode would refuse, naming the field.
func TestEncodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Message)
		want   string
	}{
		{"no source", func(m *Message) { m.Source = "" }, "source: required"},
		{"db not UTF-8", func(m *Message) { m.DB = "\xff" }, "db: not valid UTF-8"},
		{"gtid not UTF-8", func(m *Message) { m.Pos.GTID = "\xff" }, "gtid: not valid UTF-8"},
		{"no file", func(m *Message) { m.Pos.File = "" }, "file: required"},
		{"op zero", func(m *Message) { m.Op = 0 }, "op: op(0)"},
		{"no row", func(m *Message) { m.Row = "" }, "row: required"},
		{"zero time", func(m *Message) { m.CommitTime = time.Time{} }, "ts: required"},
		{"year 10000", func(m *Message) { m.CommitTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "year 10000"},
		{"no keys", func(m *Message) { m.Keys = nil }, "keys: required"},
		{"empty key", func(m *Message) { m.Keys = []string{"a", ""} }, "keys[1]: empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			tc.change(&m)
			if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode = %v, want an error with %q", err, tc.want)
			}
			if _, err := Split(m, defaultMaxBytes()); err == nil {
				t.Fatalf("Split accepted it")
			}
		})
	}
}

func TestRowIdentity(t *testing.T) {
	for _, tc := range []struct {
		db, table string
		pk        []string
		want      string
	}{
		{"shop", "users", []string{"42"}, `shop.users:"42"`},
		{"shop", "items", []string{"7", "a,b"}, `shop.items:"7","a,b"`},
		{"shop", "items", []string{"7,\"a", "b"}, `shop.items:"7,\"a","b"`},
		{"shop", "s", []string{"\xff\x00"}, `shop.s:"\xff\x00"`},
	} {
		if got := RowIdentity(tc.db, tc.table, tc.pk...); got != tc.want {
			t.Errorf("RowIdentity(%q, %q, %q) = %s, want %s", tc.db, tc.table, tc.pk, got, tc.want)
		}
	}
}

// A later format version is not poison: a consumer of a later release can
// read it, so it is told apart from a DecodeError, whatever its other fields.
func TestDecodeNewerVersion(t *testing.T) {
	for _, in := range []string{`{"v":2}`, `{"v":2,"keys":"whatever v2 means"}`, `{"keys":[],"v":17}`} {
		_, err := Decode([]byte(in))
		var ne *NewerVersionError
		var de *DecodeError
		if !errors.As(err, &ne) || errors.As(err, &de) {
			t.Errorf("Decode(%s) = %T %v, want only *NewerVersionError", in, err, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "newer than this consumer reads (version 1)") || !strings.Contains(msg, fmt.Sprintf("reads version %d", ne.Got)) {
			t.Errorf("Decode(%s) error %q does not say which version is needed", in, msg)
		}
	}
}

// trx_gtid, the transaction's own GTID, is optional: written when set,
// read back, and absent from messages of publishers that do not know it.
func TestTrxGTIDRoundTrip(t *testing.T) {
	m := sample()
	m.TrxGTID = "0-1-42,3e11fa47-71ca-11e1-9e33-c80aa9429562:7"
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"trx_gtid":"0-1-42,3e11fa47-71ca-11e1-9e33-c80aa9429562:7"`) {
		t.Fatalf("not written: %s", b)
	}
	got, err := Decode(b)
	if err != nil || got.TrxGTID != m.TrxGTID {
		t.Fatalf("read back %q, %v", got.TrxGTID, err)
	}
	m.TrxGTID = ""
	if b, _ = Encode(m); strings.Contains(string(b), "trx_gtid") {
		t.Fatalf("written when empty: %s", b)
	}
	if _, err := Decode([]byte(strings.Replace(string(b), `"keys"`, `"trx_gtid":7,"keys"`, 1))); err == nil {
		t.Fatal("a trx_gtid that is not a string was accepted")
	}
}
