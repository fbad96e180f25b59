package backfill

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Edge values of every type in the golden `types` table, beyond the golden
// rows: extremes, zero dates, negative fractional TIME, float32 values the
// text protocol would round, trailing pad bytes and spaces, an invalid ENUM.
const typesEdgeRows = `SET time_zone = '+00:00';
SET sql_mode = '';
INSERT INTO t VALUES (100,
  127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
  -0.50, -12345678901234567890.0123456789, 3.1415927, 0.30000000000000004,
  'x ', 'trailing  ', '', X'FF',
  0x61000000, 0x610000, 0x00,
  '0000-00-00', '0000-00-00 00:00:00', '2026-01-01 00:00:00.000', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.01', '-00:00:01', '-00:00:00.500', 0,
  'large', 'a,b,c,d', b'1111111111', '[]');
INSERT INTO t VALUES (101,
  -1, 1, -1, 1, -1, 1, -1, 1, -1, 1,
  0.01, 0.0000000000, 1e-45, 1.7976931348623157e308,
  'ü', 'emoji 😀 	tab', 'nul\0byte', 'é',
  '', '', '',
  '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.001', '1000-01-01 00:00:00.000001', '2038-01-19 03:14:07.99', '838:59:59', '838:59:59.999', 1901,
  'nonsense', '', b'0', '{"k": "v"}');
INSERT INTO t (id, fl, db, dec1) VALUES (102, -3.4028235e38, -0.0, -9999999999.99);
INSERT INTO t (id, fl, db, tm3, dt6) VALUES (103, 16777217, 123456789012345680000, '-838:59:59.000', '2026-11-26 10:00:00.100000');
INSERT INTO t (id, d, dt, dt3, dt6, ts, tm, tm3, yr) VALUES (104, '2026-11-26', '2026-11-26 10:00:00', '2026-11-26 10:00:00.000', '2026-11-26 10:00:00.000000', '2026-11-26 10:00:00.00', '10:00:00', '10:00:00.000', 2026);
INSERT INTO t (id, d, dt, dt3, dt6, ts, tm, tm3, yr) VALUES (105, '2026-11-26', '2026-11-26 10:00:00', '2026-11-26 10:00:00.100', '2026-11-26 10:00:00.000001', '2026-11-26 10:00:00.01', '-10:00:00', '-838:59:59.000', 2026)`

// A second table for types the golden table lacks.
const moreTypesSchema = `CREATE TABLE t2 (
  a INT, b VARBINARY(8),
  b64 BIT(64), f73 FLOAT(7,3), d102 DOUBLE(10,2), d50 DECIMAL(5,0), tm6 TIME(6), ts0 TIMESTAMP NULL,
  en ENUM('x,y', 'it''s', 'z'), st SET('one','two'), g POINT, cb CHAR(4) CHARACTER SET binary,
  u8 TINYINT UNSIGNED ZEROFILL, yr YEAR,
  PRIMARY KEY (a, b)
) DEFAULT CHARSET=utf8mb4`

const moreTypesRows = `SET time_zone = '+00:00';
SET sql_mode = '';
INSERT INTO t2 VALUES (1, X'00FF', 18446744073709551615, 1234.567, 12345678.99, -99999, '-00:00:00.000001', '2026-11-26 10:00:00', 'x,y', 'one,two', POINT(1.5, -2), 'ab', 7, 2155);
INSERT INTO t2 VALUES (1, X'FF', 0, -0.001, 0.01, 0, '12:34:56.789012', NULL, 'it''s', 'two', POINT(0, 0), X'00', 255, 1970);
INSERT INTO t2 VALUES (2, '', 1, 0, 0, 1, '00:00:00', '1970-01-01 00:00:01', 'z', '', NULL, '', 0, NULL);
INSERT INTO t2 VALUES (3, 'k', 2, 1, 1, 2, '-01:00:00.000000', '2026-11-26 10:00:00', 'z', 'one', POINT(1, 1), 'abcd', 1, 2000);
INSERT INTO t2 VALUES (3, 'l', 3, 1, 1, 2, '01:00:00.000100', '2026-11-26 10:00:00', 'z', 'one', POINT(1, 1), 'abcd', 1, 2000)`

const moreTypesRules = `rules:
  - table: db.t2
    keys:
      - "pk:{a}:{b}"
      - "bit:{b64}|f:{f73}|d:{d102}|dec:{d50}|tm:{tm6}|ts:{ts0}"
      - "en:{en}|st:{st}|cb:{cb}|u8:{u8}|yr:{yr}"
      - "g:{g}"
`

// TestBackfillKeysMatchBinlog is the proof that a backfill deletes the very
// keys the tailer deletes: the golden `types` rows (plus edge values) and a
// second table of further types go through the binlog path (the real
// tailer) and through a backfill, and the keys must agree byte for byte,
// row by row and in order.
func TestBackfillKeysMatchBinlog(t *testing.T) {
	db := testenvShared(t)
	name := db.NewDatabase(t)
	golden := "../testdata/golden/types/"
	runSQL(t, db, name, readFile(t, golden+"schema.sql")+";\n"+moreTypesSchema)
	start := masterPos(t, db)
	runSQL(t, db, name, readFile(t, golden+"changes.sql")+";\n"+typesEdgeRows+";\n"+moreTypesRows)
	end := masterPos(t, db)

	rules := parseRules(t, readFile(t, golden+"rules.yaml"), name)
	rules = append(rules, parseRules(t, moreTypesRules, name)...)
	fromBinlog := tailKeys(t, db, rules, start, end)

	// Chunk 1: each row's keys are de-duplicated on their own, as each
	// INSERT's are in its own binlog transaction.
	var fromBackfill []string
	for _, table := range []string{"t", "t2"} {
		keys, st := backfillKeys(t, db, rules, Options{Table: name + "." + table, Chunk: 1})
		if !st.Complete {
			t.Fatalf("backfill of %s incomplete: %+v", table, st)
		}
		fromBackfill = append(fromBackfill, keys...)
	}
	if len(fromBinlog) == 0 {
		t.Fatal("the binlog path produced no keys")
	}
	for i := 0; i < max(len(fromBinlog), len(fromBackfill)); i++ {
		var b, f string
		if i < len(fromBinlog) {
			b = fromBinlog[i]
		}
		if i < len(fromBackfill) {
			f = fromBackfill[i]
		}
		if b != f {
			t.Errorf("key %d differs:\n  binlog   %s\n  backfill %s", i, strconv.Quote(b), strconv.Quote(f))
		}
	}
	if t.Failed() {
		t.Fatalf("binlog gave %d keys, backfill %d", len(fromBinlog), len(fromBackfill))
	}

	// And both agree with the golden specification for its rows.
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, golden+"keys.golden")), "\n") {
		if strings.HasPrefix(line, "-- ") {
			continue
		}
		k, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("keys.golden: %q: %v", line, err)
		}
		want = append(want, k)
	}
	for i, k := range want {
		if fromBackfill[i] != k {
			t.Errorf("golden key %d: want %q, backfill rendered %q", i, k, fromBackfill[i])
		}
	}
	t.Logf("%d keys identical on both paths", len(fromBinlog))
}

// A table without a primary key is read in one streaming query: its keys
// are still the tailer's, byte for byte and in order (InnoDB returns such a
// table in insertion order), with every type of t2 and chunks of one row.
func TestBackfillWholeTableMatchesBinlog(t *testing.T) {
	db := testenvShared(t)
	name := db.NewDatabase(t)
	noPK := strings.Replace(strings.Replace(moreTypesSchema, ",\n  PRIMARY KEY (a, b)\n", "\n", 1), "TABLE t2", "TABLE t3", 1)
	if noPK == moreTypesSchema || strings.Contains(noPK, "PRIMARY KEY") {
		t.Fatal("the test's schema edit did not apply")
	}
	runSQL(t, db, name, noPK)
	start := masterPos(t, db)
	runSQL(t, db, name, strings.ReplaceAll(moreTypesRows, "INTO t2", "INTO t3"))
	end := masterPos(t, db)
	rules := parseRules(t, strings.Replace(moreTypesRules, "db.t2", "db.t3", 1), name)
	fromBinlog := tailKeys(t, db, rules, start, end)

	for _, chunk := range []int{1, 2, 1000} {
		keys, st := backfillKeys(t, db, rules, Options{Table: name + ".t3", Chunk: chunk})
		if !st.Complete || st.RowsRead != 5 {
			t.Fatalf("chunk %d: %+v, want complete after 5 rows", chunk, st)
		}
		if chunk == 1 && !slices.Equal(keys, fromBinlog) {
			t.Fatalf("keys differ:\n  binlog   %q\n  backfill %q", fromBinlog, keys)
		}
		slices.Sort(keys)
		want := slices.Clone(fromBinlog)
		slices.Sort(want)
		if chunk > 1 && !slices.Equal(slices.Compact(keys), slices.Compact(want)) {
			t.Errorf("chunk %d: keys %q, want the binlog's %q", chunk, keys, want)
		}
	}
	if len(fromBinlog) == 0 {
		t.Fatal("the binlog path produced no keys")
	}
}
