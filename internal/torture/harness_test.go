package torture

import (
	"context"
	"testing"
	"time"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// harnessOptions are a short run on the test's own database and Redis.
func harnessOptions(t *testing.T, mode, pause string, d time.Duration) Options {
	t.Helper()
	db := testenv.SharedMariaDB(t)
	rd := testenv.StartRedis(t)
	dist, err := ParseDist(pause, d)
	if err != nil {
		t.Fatal(err)
	}
	return Options{MySQLAddr: db.Addr, MySQLUser: "root", RedisAddr: rd.Addr, Database: db.NewDatabase(t),
		ServerID: db.ReplicaServerID(), Modes: []string{mode}, Writers: 2, Readers: 12, Rows: 20,
		Duration: time.Second, SecondDelay: d, Pause: dist, Seed: 7}
}

func runHarness(t *testing.T, o Options) ModeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Modes) != 1 {
		t.Fatalf("want one mode's result, got %+v", rep.Modes)
	}
	m := rep.Modes[0]
	t.Logf("%s: %d reads, %d loads, %d writes, %d keys, %d stale, %d unparsed; stale fills: %+v",
		m.Mode, m.Reads, m.Loads, m.Writes, m.Keys, m.Stale, m.Unparsed, m.StaleKeys)
	if m.Errors > 0 {
		t.Fatalf("%d reads or writes failed: %s", m.Errors, m.FirstError)
	}
	if m.Reads == 0 || m.Writes == 0 || m.Keys == 0 {
		t.Fatalf("the run did nothing to check: %+v", m)
	}
	return m
}

// TestHarnessSeesTheRace forces the race in app-delete mode: half the fills
// wait 200ms between their MySQL read and their SET, while 20 rows are
// updated (and their keys deleted) hundreds of times a second. A slow fill
// that read a row before its last update lands after the writer's delete
// and stays, so the harness must report stale keys — and each one's fill
// must be a slow one.
func TestHarnessSeesTheRace(t *testing.T) {
	o := harnessOptions(t, ModeAppDelete, "50%:0,50%:200ms", time.Second)
	m := runHarness(t, o)
	if m.Stale == 0 {
		t.Fatal("no stale key found: the harness cannot see the race it forced")
	}
	for _, s := range m.StaleKeys {
		if time.Duration(s.Pause) != 200*time.Millisecond || s.Cached >= s.Current {
			t.Errorf("stale key %+v: want a 200ms fill of an older version", s)
		}
	}
	if m.StalePauseMin != Millis(200*time.Millisecond) || m.StalePauseMax != m.StalePauseMin || m.StaleUnderD != m.Stale {
		t.Errorf("stale pauses %v–%v, %d of %d under D: want all 200ms, all under D", m.StalePauseMin, m.StalePauseMax, m.StaleUnderD, m.Stale)
	}
}

// TestHarnessDoubleDeleteCoversShortPauses: with every pause under 1ms and
// a second delete 2s after the first, no fill can land after the second
// delete of the write it missed, so double mode must leave no stale key.
func TestHarnessDoubleDeleteCoversShortPauses(t *testing.T) {
	o := harnessOptions(t, ModeDouble, "100%:0-1ms", 2*time.Second)
	m := runHarness(t, o)
	if m.Stale != 0 {
		t.Fatalf("%d stale keys with pauses far below the second delay: %+v", m.Stale, m.StaleKeys)
	}
}

// TestHarnessLeaseFencesTheRace forces TestHarnessSeesTheRace's race with
// slow fills three times the second delay, which a double delete cannot
// cover, and lease-fenced fills: the slow fills that read a row before its
// last update are refused (cachesync's delete took their placeholder), so
// no key is left stale — and fills were refused, so the race did happen.
func TestHarnessLeaseFencesTheRace(t *testing.T) {
	o := harnessOptions(t, ModeLease, "50%:0,50%:300ms", 100*time.Millisecond)
	m := runHarness(t, o)
	if m.Stale != 0 {
		t.Fatalf("%d stale keys with lease-fenced fills: %+v", m.Stale, m.StaleKeys)
	}
	if m.Lease == nil {
		t.Fatal("no lease counters in mode lease")
	}
	t.Logf("lease: %+v", *m.Lease)
	if m.Lease.RefusedFills == 0 || m.Lease.Fills == 0 {
		t.Fatalf("lease counters %+v: want fills stored and fills refused", *m.Lease)
	}
}

// TestObserverMatchesHarness runs the consistency observer beside the
// forced race of TestHarnessSeesTheRace, checking every change: the keys it
// confirms stale at its last window are exactly the harness's stale keys
// (each one's row's last change); with lease-fenced fills it finds none.
func TestObserverMatchesHarness(t *testing.T) {
	for _, c := range []struct {
		mode, pause string
		d           time.Duration
	}{{ModeAppDelete, "50%:0,50%:200ms", time.Second}, {ModeLease, "50%:0,50%:300ms", 100 * time.Millisecond}} {
		t.Run(c.mode, func(t *testing.T) {
			o := harnessOptions(t, c.mode, c.pause, c.d)
			o.Observe, o.ObserveSample = true, 1
			o.ObserveWindows = []time.Duration{200 * time.Millisecond, time.Second}
			o.ObserveServerID = testenv.SharedMariaDB(t).ReplicaServerID()
			m := runHarness(t, o)
			ob := m.Observer
			if ob == nil {
				t.Fatal("no observer figures")
			}
			t.Logf("observer: %+v", *ob)
			if ob.Sampled == 0 || ob.Dropped != 0 || ob.Pending != 0 {
				t.Fatalf("observer checked %d changes, dropped %d, left %d unfinished", ob.Sampled, ob.Dropped, ob.Pending)
			}
			if ob.Inconsistent != int64(m.Stale) {
				t.Errorf("observer confirmed %d inconsistent keys, the harness found %d stale", ob.Inconsistent, m.Stale)
			}
			if c.mode == ModeLease && ob.Inconsistent != 0 {
				t.Errorf("lease: %d inconsistent", ob.Inconsistent)
			}
		})
	}
}
