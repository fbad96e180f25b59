package canal

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/internal/testenv"
	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/retry"
)

// A change replay cannot turn into keys (here DML written as a statement)
// ends the replay at once with that error, as it ends run: reading the
// same event again cannot help, so it is not a broken stream to reconnect
// after.
func TestReplayStopsAtUnsafeChange(t *testing.T) {
	db := sharedMariaDB(t)
	name := db.NewDatabase(t)
	db.Exec(t, "CREATE TABLE `"+name+"`.u (id INT PRIMARY KEY, email VARCHAR(50))")
	db.Exec(t, "INSERT INTO `"+name+"`.u VALUES (1, 'a')")
	f, p := db.MasterStatus(t)
	from := f + ":" + strconv.Itoa(int(p))
	conn := db.Conn(t)
	for _, q := range []string{"SET SESSION binlog_format = 'STATEMENT'", "UPDATE `" + name + "`.u SET email = 'b' WHERE id = 1"} {
		if _, err := conn.Execute(q); err != nil {
			t.Fatal(err)
		}
	}
	f, p = db.MasterStatus(t)
	to := f + ":" + strconv.Itoa(int(p))

	src := config.Default().Source
	src.Addr, src.User, src.Flavor, src.ServerID = db.Addr, "root", "mariadb", db.ReplicaServerID()
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rng, err := ResolveRange(ctx, src, from, to, log)
	if err != nil {
		t.Fatal(err)
	}
	tracker := checkpoint.NewTracker(event.Position{})
	r := NewReplayer(src, []*config.Rule{testenv.Rule(t, name+".u", nil, "u:{id}")}, nil, &replaySink{tracker: tracker}, tracker, log, metrics.New(nil), retry.Backoff{})
	r.MaxReconnects = 3
	r.IdleCheck = 50 * time.Millisecond
	err = r.Run(ctx, rng)
	var unsafe *UnsafeBinlogError
	if !errors.As(err, &unsafe) {
		t.Fatalf("replay over a statement-format UPDATE: %v, want an UnsafeBinlogError", err)
	}
	if n := logs.FilterMessageSnippet("reconnecting").Len(); n > 0 {
		t.Errorf("replay reconnected %d times to read the same unsafe change again: %v", n, err)
	}
}
