package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// wantRefused checks one bad input: a non-zero exit, one clear message
// naming the problem on stderr's last line, and nothing deleted.
func (e *env) wantRefused(what string, code int, stderr string, sentinel []string, want ...string) {
	e.t.Helper()
	if code == 0 {
		e.t.Errorf("%s: exit 0, want a failure\n%s", what, stderr)
		return
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	for _, w := range want {
		if !strings.Contains(strings.ToLower(last), strings.ToLower(w)) {
			e.t.Errorf("%s: the message does not say %q:\n%s", what, w, stderr)
		}
	}
	if left := e.exists(sentinel...); len(left) != len(sentinel) {
		e.t.Errorf("%s: keys were deleted before the input was refused; left %q", what, left)
	}
}

func TestReplayBadInput(t *testing.T) {
	t.Parallel()
	db := testenv.SharedMariaDB(t)
	e, b := replayEnv(t, db, "", markFilePos)
	sentinel := append(slices.Clone(rpInsideKeys), rpOutsideKeys...)
	file, _, _ := strings.Cut(b.from, ":")
	inside := eventInsideTransaction(t, db, b.from)
	cfgText, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tailerID := regexp.MustCompile(`server_id: (\d+)`).FindStringSubmatch(string(cfgText))[1]
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"to before from", []string{"--from", b.to, "--to", b.from}, []string{"is before --from"}},
		{"inside a transaction", []string{"--from", file + ":" + strconv.FormatUint(inside, 10)}, []string{"inside a transaction"}},
		{"not an event", []string{"--from", file + ":" + strconv.FormatUint(inside+1, 10)}, []string{"not the start of a binlog event"}},
		{"no such file", []string{"--from", "nosuch-bin.000001:4"}, []string{"no binlog file nosuch-bin.000001"}},
		{"past the end", []string{"--from", file + ":4294967295"}, []string{"past the end"}},
		{"GTID not in binlog", []string{"--from", "0-1-4000000000"}, []string{"not in the server's binlog"}},
		{"time in the future", []string{"--from", "2999-01-01T00:00:00Z"}, []string{"no transaction at or after"}},
		{"time without zone", []string{"--from", "2026-11-26 10:00:00"}, []string{"time zone"}},
		{"garbage", []string{"--from", "yesterday"}, []string{"not a binlog position"}},
		{"table without rule", []string{"--from", b.from, "--tables", e.name + ".nosuch"}, []string{"no rule maps " + e.name + ".nosuch"}},
	}
	for _, c := range cases {
		_, errOut, code := e.replay(c.args...)
		e.wantRefused(c.name, code, errOut, sentinel, c.want...)
	}
	_, errOut, code := e.oneShot("replay", "--config", e.cfg, "--from", b.from, "--server-id", tailerID)
	e.wantRefused("the tailer's server id", code, errOut, sentinel, "differ from source.server_id")
	_, errOut, code = e.oneShot("replay", "--config", e.cfg)
	if code != 2 || !strings.Contains(errOut, "--from is required") {
		t.Errorf("no --from: exit %d\n%s", code, errOut)
	}
}

// With transport.kind kafka the replay publishes the range's keys to the
// topic, as the tailer would (the consumers delete them); --direct deletes
// them straight from Redis instead.
func TestReplayThroughKafka(t *testing.T) {
	t.Parallel()
	broker := testenv.StartKafka(t)
	e, b := replayEnv(t, testenv.SharedMariaDB(t), rpKafka(broker), markFilePos)
	_, errOut, code := e.replay("--from", b.from, "--to", b.to)
	if code != 0 || !strings.Contains(errOut, "published to kafka") {
		t.Fatalf("replay through kafka: exit %d\n%s", code, errOut)
	}
	_, published := topicRows(t, broker, 2)
	var got []string
	for k := range published {
		got = append(got, k)
	}
	sameKeys(t, "published", got, rpInsideKeys)
	if left := e.exists(rpInsideKeys...); len(left) != len(rpInsideKeys) {
		t.Errorf("keys deleted although no consumer runs: %d of %d left", len(left), len(rpInsideKeys))
	}
	_, errOut, code = e.replay("--from", b.from, "--to", b.to, "--direct")
	if code != 0 {
		t.Fatalf("--direct with transport.kind kafka: exit %d\n%s", code, errOut)
	}
	if left := e.exists(rpInsideKeys...); len(left) != 0 {
		t.Errorf("--direct left keys of the range: %q", left)
	}
}

// TestReplayRefusesPurgedBinlog purges binlog on a server of its own (the
// shared one's readers need theirs) and asks for the purged part three ways.
func TestReplayRefusesPurgedBinlog(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{})
	e := newEnv(t, db, rpSchema, rpRules, "")
	e.exec(rpBefore[0])
	oldFile, oldPos := db.MasterStatus(t)
	gtid, _ := db.Exec(t, "SELECT @@GLOBAL.gtid_binlog_pos").GetString(0, 0)
	before := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	db.Exec(t, "FLUSH BINARY LOGS")
	db.Exec(t, "FLUSH BINARY LOGS")
	newFile, _ := db.MasterStatus(t)
	// The server keeps a file until its binlog checkpoint is done: purge
	// until it is gone (bounded).
	for i := 0; ; i++ {
		db.Exec(t, "PURGE BINARY LOGS TO '"+newFile+"'")
		if first, _ := db.Exec(t, "SHOW BINARY LOGS").GetString(0, 0); first == newFile {
			break
		}
		if i == 150 {
			t.Fatalf("PURGE BINARY LOGS TO %s left older files on the server", newFile)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.exec(rpBefore[1])
	e.setKeys(rpOutsideKeys...)
	for _, c := range []struct{ name, from, want string }{
		{"purged file", oldFile + ":" + strconv.Itoa(int(oldPos)), "no longer on the server (purged"},
		{"purged GTID", firstGTID(gtid), "not in the server's binlog"},
		{"time before the oldest binlog", before, "transactions from that time are purged"},
	} {
		_, errOut, code := e.replay("--from", c.from)
		e.wantRefused(c.name, code, errOut, rpOutsideKeys, c.want)
	}
}

// rpKafka configures the Kafka transport on broker, topic kafkaTopic.
func rpKafka(broker string) string {
	return "transport: {kind: kafka, kafka: {brokers: [" + broker + "], topic: " + kafkaTopic +
		", group: g, create_topic: true, partitions: 2}}"
}

// eventInsideTransaction finds, from a boundary on, the position of an
// event inside a transaction (a table map or a rows event).
func eventInsideTransaction(t *testing.T, db *testenv.MariaDB, from string) uint64 {
	t.Helper()
	file, pos, _ := strings.Cut(from, ":")
	r := db.Exec(t, "SHOW BINLOG EVENTS IN '"+file+"' FROM "+pos+" LIMIT 50")
	for i := 0; i < r.RowNumber(); i++ {
		typ, _ := r.GetString(i, 2)
		if typ == "Table_map" || strings.HasSuffix(typ, "_rows_v1") {
			p, _ := r.GetUint(i, 1)
			return p
		}
	}
	t.Fatalf("no rows event in the 50 events after %s", from)
	return 0
}

// firstGTID turns the set after the first transaction (0-1-N) into 0-1-1:
// a position whose following transactions are purged.
func firstGTID(set string) string {
	i := strings.LastIndexByte(set, '-')
	return set[:i+1] + "1"
}
