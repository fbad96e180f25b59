package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/writebehind"
)

// knownEmpty are the series the load of TestScrape cannot make: each is
// born with its first event, and only a fault makes that event. An
// expression that reads one may return nothing; its metric name and labels
// are still checked against the code. (Most labelled counters are created
// at 0 when their table, phase or stream is set up, and are not here.)
var knownEmpty = map[string]string{
	"cachesync_template_column_missing_total":   "only after a DDL drops a column a rule templates",
	"cachesync_binlog_statement_dml_total":      "only after SET GLOBAL binlog_format=STATEMENT, which the shared MariaDB must not get",
	"cachesync_binlog_partial_row_images_total": "only after SET GLOBAL binlog_row_image=MINIMAL, which the shared MariaDB must not get",
	"cachesync_kafka_bypassed_changes_total":    "only a change whose keys are larger than a Kafka message",
	"cachesync_redis_restarts_total":            "only after a Redis server restarts under a running cachesync",
}

// mustFire are the alerts the load of TestScrape sets off (its dead
// letters): the path from cachesync's counters to a firing alert, seen
// end to end.
var mustFire = []string{"CachesyncKafkaDeadLetters", "CachesyncWriteBehindDeadLetters"}

// TestScrape runs cachesync (the built binary, role all: tailer, Kafka
// consumer, write-behind flusher) against MariaDB, Redis and the in-process
// Kafka broker under a small load of writes, with a real Prometheus
// scraping it every 200 ms and evaluating alerts.yml. Every dashboard query
// must return data and every metric an alert reads must be in the scrape,
// unless it is in knownEmpty; every name and label must be cachesync's.
func TestScrape(t *testing.T) {
	db := testenv.SharedMariaDB(t)
	name := db.NewDatabase(t)
	db.Exec(t, "CREATE TABLE `"+name+"`.users (id BIGINT PRIMARY KEY, email VARCHAR(191) NULL, name VARCHAR(100), visits INT NOT NULL DEFAULT 0) CHARSET utf8mb4")
	db.Exec(t, "CREATE TABLE `"+name+"`.items (id BIGINT PRIMARY KEY, name VARCHAR(64) NULL, qty BIGINT NOT NULL DEFAULT 0) CHARSET utf8mb4")
	rs := testenv.StartRedis(t)
	rdb := rs.Client(t)
	broker := testenv.StartKafka(t)
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	cfg := fmt.Sprintf(`source: {addr: %s, user: root, flavor: mariadb, server_id: %d, heartbeat_period: 1s}
checkpoint: {store: redis}
transport:
  kind: kafka
  kafka: {brokers: [%s], topic: invalidations, group: cachesync, create_topic: true, commit_interval: 50ms}
redis: {addrs: [%s]}
retry: {initial: 20ms, max: 500ms}
observe: {sample: 1, windows: [200ms, 1s]}
delete: {second_delay: 100ms}
http: {addr: %s}
rules:
  - table: %[6]s.users
    keys: ["user:{id}", "user:email:{email}"]
    watch: [id, email, name]
    observe: {column: visits, field: "$.visits"}
  - table: %[6]s.items
    keys: ["item:{id}", "items:name:{name}"]
    write_behind: {stream: "wb:items", keys: ["item:{id}"], interval: 50ms}
`, db.Addr, db.ReplicaServerID(), broker, rs.Addr, httpAddr, name)
	cfgPath := filepath.Join(dir, "cachesync.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cachesync")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cachesync/cachesync/cmd/cachesync").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logPath := startProcess(t, exec.Command(bin, "run", "--config", cfgPath), dir, "cachesync")
	waitHTTP(t, "http://"+httpAddr+"/readyz", 60*time.Second, logPath)
	// cachesync observe beside it, read-only, on its own binlog connection:
	// the consistency row and alert read its metrics.
	obsAddr := freeAddr(t)
	obsLog := startProcess(t, exec.Command(bin, "observe", "--config", cfgPath, "--http", obsAddr,
		"--server-id", strconv.FormatUint(uint64(db.ReplicaServerID()), 10)), dir, "cachesync-observe")
	waitHTTP(t, "http://"+obsAddr+"/metrics", 60*time.Second, obsLog)
	rules, err := filepath.Abs(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	base := startPrometheus(t, rules, httpAddr, obsAddr)

	// Prometheus learns its targets a few seconds after it is ready: the
	// load starts once it has scraped, so the counters rise under its eyes.
	waitScrapes(t, base, 2, 30*time.Second)
	load(t, db, name, rdb, broker)
	waitScrapes(t, base, 10, 30*time.Second)

	exprs := expressions(t)
	names := exported(t)
	checkKnownEmpty(t, exprs, names)
	// The counters of the load reach the scrape a moment after the writes:
	// check until nothing is missing, at most 30 s.
	var problems []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		problems = append(check(t, base, exprs, names), notFiring(t, base, mustFire...)...)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	for name := range knownEmpty {
		if n, _ := query(t, base, name); n > 0 {
			t.Errorf("knownEmpty %s has data: the code now creates it before its first event, take it off the list", name)
		}
	}
	for _, g := range promGet(t, base+"/api/v1/rules").Data.Groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				t.Errorf("alert %s: prometheus evaluates it with an error: %s", r.Name, r.LastError)
			}
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(logPath)
		t.Logf("cachesync log:\n%s", b)
	}
}

// load writes a little of everything the dashboard shows: rows with 4-byte
// UTF-8 and NULLs, updates of watched and unwatched columns, deletes,
// write-behind entries and one that cannot apply (it is dead-lettered), and
// one message on the topic that is not cachesync's (it goes to the DLQ).
// Bounded: 40 rounds.
func load(t *testing.T, db *testenv.MariaDB, name string, rdb *redis.Client, broker string) {
	t.Helper()
	ctx := context.Background()
	q := func(s string) string { return strings.ReplaceAll(s, "DB.", "`"+name+"`.") }
	wb := writebehind.New(rdb, "wb:items")
	for i := 1; i <= 40; i++ {
		email := fmt.Sprintf("'ü%d😀@例え.jp'", i)
		if i%3 == 0 {
			email = "NULL"
		}
		db.Exec(t, q(fmt.Sprintf("INSERT INTO DB.users (id, email, name) VALUES (%d, %s, 'Zoë 🧪')", i, email)))
		db.Exec(t, q(fmt.Sprintf("UPDATE DB.users SET visits = visits + 1 WHERE id = %d", i))) // no watched column
		db.Exec(t, q(fmt.Sprintf("UPDATE DB.users SET name = 'Ŋame %d' WHERE id = %d", i, i)))
		if i%4 == 0 {
			db.Exec(t, q(fmt.Sprintf("DELETE FROM DB.users WHERE id = %d", i-1)))
		}
		row := writebehind.Row{Table: name + ".items", PK: map[string]any{"id": i}}
		if _, err := wb.Set(ctx, fmt.Sprintf("item:%d", i), "🎁", 0, row, map[string]any{"name": fmt.Sprintf("gift %d 🎁", i), "qty": i}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An entry naming a column the table does not have can never apply: it
	// is dead-lettered.
	poison := writebehind.Row{Table: name + ".items", PK: map[string]any{"id": 1000}}
	if _, err := wb.Set(ctx, "item:1000", "x", 0, poison, map[string]any{"no_such_column": 1}); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "invalidations", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("x"), Value: []byte("not a cachesync message")}); err != nil {
		t.Fatal(err)
	}
}

// expression is one PromQL query of deploy/ and where it is.
type expression struct{ where, expr string }

// expressions returns every alert expression and every dashboard query,
// with the dashboard's variables replaced as Grafana would.
func expressions(t *testing.T) []expression {
	t.Helper()
	var out []expression
	for _, r := range loadAlerts(t) {
		out = append(out, expression{"alert " + r.Alert, r.Expr})
	}
	b, err := os.ReadFile(filepath.Join("grafana", "cachesync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$job", "cachesync", "$__rate_interval", "1m")
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, expression{"panel " + p.Title + " " + tg.RefID, vars.Replace(tg.Expr)})
		}
	}
	return out
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// check evaluates each expression and each of its selectors, and returns
// what is wrong.
func check(t *testing.T, base string, exprs []expression, names map[string][]string) []string {
	var problems []string
	for _, e := range exprs {
		n, errText := query(t, base, e.expr)
		if errText != "" {
			problems = append(problems, fmt.Sprintf("%s: %q: %s", e.where, e.expr, errText))
			continue
		}
		empty := ""
		for _, s := range selectors(t, e.expr) {
			labels, ok := names[s.name]
			if !ok && s.name != "up" {
				problems = append(problems, fmt.Sprintf("%s: %s is not a metric cachesync exports", e.where, s.name))
				continue
			}
			for _, l := range s.labels {
				if !slices.Contains(labels, l) && l != "job" && l != "instance" && l != "le" {
					problems = append(problems, fmt.Sprintf("%s: %s has no label %s (it has %v)", e.where, s.name, l, labels))
				}
			}
			if why, ok := knownEmpty[s.name]; ok {
				empty = why
				continue
			}
			if got, _ := query(t, base, s.text); got == 0 {
				problems = append(problems, fmt.Sprintf("%s: %s returns no data", e.where, s.text))
			}
		}
		if strings.HasPrefix(e.where, "panel ") && n == 0 && empty == "" {
			problems = append(problems, fmt.Sprintf("%s: %q returns no data", e.where, e.expr))
		}
	}
	return problems
}

// checkKnownEmpty keeps the list honest: each entry is a metric cachesync
// exports and some expression reads.
func checkKnownEmpty(t *testing.T, exprs []expression, names map[string][]string) {
	t.Helper()
	used := map[string]bool{}
	for _, e := range exprs {
		for _, s := range selectors(t, e.expr) {
			used[s.name] = true
		}
	}
	for name, why := range knownEmpty {
		if _, ok := names[name]; !ok || !used[name] || why == "" {
			t.Errorf("knownEmpty %s: want a metric cachesync exports (%v), read by some expression (%v), with a reason (%q)", name, ok, used[name], why)
		}
	}
}

// notFiring returns a problem for each alert of names that Prometheus does
// not report firing.
func notFiring(t *testing.T, base string, names ...string) []string {
	firing := map[string]bool{}
	for _, a := range promGet(t, base+"/api/v1/alerts").Data.Alerts {
		if a.State == "firing" {
			firing[a.Labels["alertname"]] = true
		}
	}
	var problems []string
	for _, n := range names {
		if !firing[n] {
			problems = append(problems, "alert "+n+" does not fire, though the load dead-lettered a message and an entry")
		}
	}
	return problems
}
