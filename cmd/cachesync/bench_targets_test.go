package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

// A bench target is what a scenario measures: cachesync on the direct or the
// Kafka transport, or the floor (cmd/cachesync-floor), on the same load in
// the same run so that their ratio means something.
type benchTarget string

const (
	targetFloor      benchTarget = "floor"
	targetDirect     benchTarget = "direct"
	targetKafka      benchTarget = "kafka"       // message: row (default)
	targetKafkaBatch benchTarget = "kafka-batch" // message: batch
)

// extra is the config the target adds (the transport); a Kafka target gets
// a fresh in-process broker.
func (tg benchTarget) extra(b *testing.B) string {
	message := map[benchTarget]string{targetKafka: "row", targetKafkaBatch: "batch"}[tg]
	if message == "" {
		return ""
	}
	return fmt.Sprintf("transport:\n  kind: kafka\n  kafka: {brokers: [%s], topic: inv, group: cachesync, create_topic: true, partitions: 4, message: %s}\n",
		testenv.StartKafka(b), message)
}

// benchMemLimit is the soft memory limit cachesync runs with here, as the
// Dockerfile sets it: the Go runtime then collects harder as the heap nears
// it instead of letting it double (GOGC) — see BENCHMARKS.md.
const benchMemLimit = "GOMEMLIMIT=96MiB"

// start runs the target against e's database and Redis and waits until it
// streams from the primary's current position.
func (tg benchTarget) start(b *testing.B, e *env) *proc {
	if tg != targetFloor {
		e.benchDefaults()
		return e.startEnv(benchMemLimit)
	}
	p := e.spawn(exec.Command(floorBin(b), "--mysql", e.db.Addr, "--user", "root", "--redis", e.redis.Addr,
		"--table", e.name+".users", "--column", "id", "--prefix", "user:",
		"--server-id", strconv.FormatUint(uint64(e.db.ReplicaServerID()), 10)))
	e.waitLog(p, "cachesync-floor: streaming")
	return p
}

// benchDefaults drops what the e2e harness pins for speed of tests
// (checkpoint.min_interval) so that cachesync runs with the default; a
// config started before has it dropped already.
func (e *env) benchDefaults() {
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfg, bytes.Replace(raw, []byte("min_interval: 100ms, "), nil, 1), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

var (
	floorOnce sync.Once
	floorPath string
	floorErr  error
)

// floorBin builds cmd/cachesync-floor once per test binary.
func floorBin(b *testing.B) string {
	floorOnce.Do(func() {
		floorPath = filepath.Join(filepath.Dir(binPath), "cachesync-floor") // removed with it
		if out, err := exec.Command("go", "build", "-o", floorPath, "../cachesync-floor").CombinedOutput(); err != nil {
			floorErr = fmt.Errorf("build cachesync-floor: %v\n%s", err, out)
		}
	})
	if floorErr != nil {
		b.Fatal(floorErr)
	}
	return floorPath
}

// quiesce waits (at most a minute) until InnoDB has purged the row versions
// earlier runs left behind, so their purge does not compete with the next
// measurement for the same two cores.
func quiesce(b *testing.B, db *testenv.MariaDB) {
	conn := db.Conn(b)
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := conn.Execute("SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'")
		if err != nil || r.RowNumber() == 0 {
			b.Logf("cannot read the InnoDB history length (%v); not waiting for purge", err)
			return
		}
		n, _ := r.GetInt(0, 0)
		if n < 1000 || time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
