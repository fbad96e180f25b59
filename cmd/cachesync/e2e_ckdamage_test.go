package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

// A damaged checkpoint — cut short, garbage, a position the server never
// had, a GTID of another server — stops `run` with one message naming the
// checkpoint (the file, or the key in Redis) and the ways out, and a
// non-zero exit. cachesync never starts from the current position on its
// own, and leaves the damaged position as it was (a readable one may be
// saved again at the same place on the way out).

// damage is one damaged checkpoint.
type damage struct {
	name, raw string
	gtid      bool // source.gtid: true
}

var damages = []damage{
	{name: "truncated", raw: `{"version":1,"file":"binlog.0000`},
	{name: "garbage", raw: "\x00\xff\xfe\x01garbage\x7f"},
	{name: "no_such_file", raw: `{"version":1,"file":"binlog.000099","pos":4}`},
	{name: "past_the_end", raw: `{"version":1,"file":"binlog.000001","pos":4000000000}`},
	{name: "gtid_other_server", raw: `{"version":1,"file":"binlog.000001","pos":4,"gtid":"0-77-5"}`, gtid: true},
	{name: "gtid_other_domain", raw: `{"version":1,"file":"binlog.000001","pos":4,"gtid":"9-77-5"}`, gtid: true},
}

// wantRefusal checks the refusal: non-zero, the checkpoint named, the fix
// given, said once as the error line, and no start from "now".
func wantRefusal(t *testing.T, r cliResult, where string) {
	t.Helper()
	wantFailure(t, r, []string{where, "delete", "current position", "backfill"},
		"starting at the primary's current position", "reconnecting")
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "cachesync: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], where) {
		t.Errorf("want one error line naming %s, got %q", where, lines)
	}
}

func TestRunRefusesDamagedCheckpointFile(t *testing.T) {
	t.Parallel()
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
			if d.gtid {
				e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
			}
			e.writeCheckpoint(d.raw)
			wantRefusal(t, runCLI(t, exitLimit, nil, "run", "--config", e.cfg), "checkpoint file "+e.checkpointPath())
			if got, _ := readFile(e.checkpointPath()); !samePosition(got, d.raw) {
				t.Errorf("the damaged checkpoint was rewritten to %q", got)
			}
			// config check --online says it before a run: all but a position
			// past the end of a file or a GTID the server's domain has not
			// reached or diverged from, which only streaming finds.
			if d.name != "past_the_end" && d.name != "gtid_other_server" {
				wantFailure(t, runCLI(t, exitLimit, nil, "config", "check", "--online", "--config", e.cfg), []string{e.checkpointPath()})
			}
		})
	}
}

// The same damages in the shared checkpoint of checkpoint.store: redis.
func TestRunRefusesDamagedCheckpointInRedis(t *testing.T) {
	t.Parallel()
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e := leaderEnv(t)
			if d.gtid {
				e.editConfig("heartbeat_period: 1s}", "heartbeat_period: 1s, gtid: true}")
			}
			ctx := context.Background()
			if err := e.rdb.Set(ctx, "{cs}", d.raw, 0).Err(); err != nil {
				t.Fatal(err)
			}
			wantRefusal(t, runCLI(t, exitLimit, nil, "run", "--config", e.cfg), "checkpoint key {cs} in Redis")
			if got, _ := e.rdb.Get(ctx, "{cs}").Result(); !samePosition(got, d.raw) {
				t.Errorf("the damaged checkpoint was rewritten to %q", got)
			}
		})
	}
}

// samePosition reports whether the checkpoint got still holds raw's
// position: raw itself, or raw's fields saved again with a new saved_at.
func samePosition(got, raw string) bool {
	return got == raw || strings.HasPrefix(got, strings.TrimSuffix(raw, "}")+",")
}
