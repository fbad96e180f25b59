package torture

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one run: the settings and a result per mode, in the order run.
type Report struct {
	Started     time.Time    `json:"started"`
	Writers     int          `json:"writers"`
	Readers     int          `json:"readers"`
	Rows        int          `json:"rows"`
	Duration    Millis       `json:"duration_ms"`
	SecondDelay Millis       `json:"second_delay_ms"`
	Pause       string       `json:"pause"`
	Seed        uint64       `json:"seed"`
	WriteRate   float64      `json:"write_rate,omitempty"`
	Modes       []ModeResult `json:"modes"`
}

// ModeResult is what one mode left behind.
type ModeResult struct {
	Mode  string `json:"mode"`
	Error string `json:"error,omitempty"` // the mode did not finish; its figures are partial

	Reads  int64 `json:"reads"`  // cache reads, hits and misses
	Loads  int64 `json:"loads"`  // misses that read MySQL (each one a fill attempt)
	Writes int64 `json:"writes"` // committed UPDATEs
	Errors int64 `json:"errors"` // reads and writes that failed (counted, not retried)

	FirstError string `json:"first_error,omitempty"` // the first of those

	Keys     int `json:"keys"`     // cached item keys compared with MySQL at the end
	Stale    int `json:"stale"`    // of those, holding an older version than MySQL
	Unparsed int `json:"unparsed"` // held something else (a lease placeholder)

	StalePerMillion float64 `json:"stale_per_million_reads"`
	// Pauses is every fill's pause, and the pauses of the fills that left
	// the stale keys, in decade buckets.
	Pauses []PauseBucket `json:"pauses"`
	// StalePauseMin and StalePauseMax bound the pauses of the fills that
	// left stale keys; StaleUnderD counts those shorter than the second delay.
	StalePauseMin Millis `json:"stale_pause_min_ms"`
	StalePauseMax Millis `json:"stale_pause_max_ms"`
	StaleUnderD   int    `json:"stale_under_second_delay"`
	// StaleKeys are the stale keys (the first maxStaleShown) with the fill
	// that wrote each.
	StaleKeys []StaleKey `json:"stale_keys,omitempty"`

	// Lease is what the lease-fenced client counted, in mode lease.
	Lease *LeaseStats `json:"lease,omitempty"`
	// Replica is the injected lag and the second delete's wait, with
	// replica readers.
	Replica *ReplicaStats `json:"replica,omitempty"`
	// Observer is what the consistency observer counted, with -observe.
	Observer *ObserverStats `json:"observer,omitempty"`

	Elapsed Millis `json:"elapsed_ms"` // writers' run
	Settle  Millis `json:"settle_ms"`  // from the writers' stop until the compare

	secondDelay Millis // the run's D, for StaleUnderD
}

// LeaseStats are the lease-fenced client's counters over one mode.
type LeaseStats struct {
	Fills        uint64 `json:"fills"`         // fenced fills that stored the value
	RefusedFills uint64 `json:"refused_fills"` // refused: the key was deleted (or the lease expired) after the miss
	Waits        uint64 `json:"waits"`         // misses that found another reader's placeholder and waited
	WaitTimeouts uint64 `json:"wait_timeouts"` // waits that gave up and loaded without filling
	Shared       uint64 `json:"shared"`        // misses answered by another caller's load in this process
	RedisErrors  uint64 `json:"redis_errors"`  // Redis calls that failed: the read was served uncached (also in Errors)
}

// StaleKey is one key left older than its row, and the fill that wrote it.
type StaleKey struct {
	Key      string `json:"key"`
	Cached   int64  `json:"cached_version"`
	Current  int64  `json:"mysql_version"`
	Fill     string `json:"fill"`     // reader.sequence
	Pause    Millis `json:"pause_ms"` // between its MySQL read and its return
	ReadAt   Millis `json:"read_at_ms"`
	LoadedAt Millis `json:"loaded_at_ms"` // when the loader returned: the fill follows
}

// PauseBucket counts fills and stale keys whose fill's pause fell in [From, To).
type PauseBucket struct {
	From  Millis `json:"from_ms"`
	To    Millis `json:"to_ms,omitempty"` // 0: no upper bound
	Fills int64  `json:"fills"`
	Stale int    `json:"stale"`
}

// Millis is a duration that JSON writes as fractional milliseconds.
type Millis time.Duration

// MarshalJSON writes milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(m)/float64(time.Millisecond))), nil
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Millis(f * float64(time.Millisecond))
	return nil
}

func (m Millis) String() string { return time.Duration(m).String() }

// bucketEdges are the decade bounds of PauseBucket: <1ms, 1–10ms, … ≥10s.
var bucketEdges = []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second}

func bucketOf(p time.Duration) int {
	for i := len(bucketEdges) - 1; i > 0; i-- {
		if p >= bucketEdges[i] {
			return i
		}
	}
	return 0
}

func newBuckets() []PauseBucket {
	b := make([]PauseBucket, len(bucketEdges))
	for i, from := range bucketEdges {
		b[i].From = Millis(from)
		if i+1 < len(bucketEdges) {
			b[i].To = Millis(bucketEdges[i+1])
		}
	}
	return b
}

// stalePauses names the range of pauses that left stale keys, and how
// many of them were shorter than the second delay.
func (m ModeResult) stalePauses() string {
	if m.Stale == 0 {
		return "-"
	}
	return fmt.Sprintf("%s–%s, %d under D", round(m.StalePauseMin), round(m.StalePauseMax), m.StaleUnderD)
}

func round(m Millis) time.Duration {
	d := time.Duration(m)
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// WriteTable prints the report as one table, a line per mode.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "torture: %d writers, %d readers, %d rows, %s per mode, second_delay D=%s, pause %s, seed %d\n",
		r.Writers, r.Readers, r.Rows, r.Duration, r.SecondDelay, r.Pause, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\treads\twrites\tloads\tstale keys\tstale / 10^6 reads\tpauses of the stale fills\t")
	var notes []string // printed under the table
	for _, m := range r.Modes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%s\t\n", m.Mode, m.Reads, m.Writes, m.Loads, m.Stale,
			m.StalePerMillion, m.stalePauses())
		if m.Error != "" {
			notes = append(notes, fmt.Sprintf("%s: did not finish: %s", m.Mode, m.Error))
		}
		if l := m.Lease; l != nil {
			notes = append(notes, fmt.Sprintf("%s: %d fills stored, %d refused (deleted after the miss), %d waits on another reader's lease (%d gave up), %d shared",
				m.Mode, l.Fills, l.RefusedFills, l.Waits, l.WaitTimeouts, l.Shared))
		}
		if r := m.Replica; r != nil {
			line := fmt.Sprintf("%s: readers fill from the replica; its SQL thread stopped %d times, %s in all, at most %s",
				m.Mode, r.Stops, round(r.StoppedTotal), round(r.StoppedMax))
			if r.WaitCount > 0 {
				line += fmt.Sprintf("; second delete waited p50 %s, p99 %s (%d waits, %.0f sent at replica_max_wait)",
					round(r.WaitP50), round(r.WaitP99), r.WaitCount, r.AtBound)
			}
			notes = append(notes, line)
		}
		if ob := m.Observer; ob != nil {
			notes = append(notes, fmt.Sprintf("%s: observer (sample %g, windows %s): %d changes checked, stale per window %v, %d confirmed inconsistent at %s (harness ground truth %d stale keys, expected ≈ %.1f), %d superseded, %d unreadable, %d dropped, %d unfinished",
				m.Mode, ob.Sample, strings.Join(ob.Windows, ","), ob.Sampled, ob.Suspect, ob.Inconsistent, ob.Windows[len(ob.Windows)-1],
				m.Stale, ob.Expected, ob.Superseded, ob.Unreadable, ob.Dropped, ob.Pending))
		}
		if m.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d reads or writes failed, the first: %s", m.Mode, m.Errors, m.FirstError))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		_, err := fmt.Fprintln(w, strings.Join(notes, "\n"))
		return err
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
