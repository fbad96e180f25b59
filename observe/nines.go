package observe

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// nines keeps, per window, the key checks and the stale ones over a sliding
// span, in one-minute buckets.
type nines struct {
	mu      sync.Mutex
	span    time.Duration
	buckets [][]bucket // window → ring
}

type bucket struct {
	minute     int64 // Unix minute the counts are of
	total, bad int64
}

func newNines(windows []string, span time.Duration) *nines {
	n := &nines{span: span, buckets: make([][]bucket, len(windows))}
	size := int(span / time.Minute)
	for i := range n.buckets {
		n.buckets[i] = make([]bucket, size)
	}
	return n
}

func (n *nines) add(w int, now time.Time, bad bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := now.Unix() / 60
	ring := n.buckets[w]
	b := &ring[m%int64(len(ring))]
	if b.minute != m {
		*b = bucket{minute: m}
	}
	b.total++
	if bad {
		b.bad++
	}
}

// sums returns the checks and stale ones of window w within the span.
func (n *nines) sums(w int, now time.Time) (total, bad int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := now.Unix() / 60
	ring := n.buckets[w]
	for _, b := range ring {
		if b.minute > m-int64(len(ring)) && b.minute <= m {
			total += b.total
			bad += b.bad
		}
	}
	return total, bad
}

// value is the nines of window w: -log10(bad/total); with nothing stale,
// log10(total), the most the sample can show; NaN without checks.
func (n *nines) value(w int, now time.Time) float64 {
	return Nines(n.sums(w, now))
}

// Nines is -log10 of the stale share: 2 for 1 stale in 100, 3 for 1 in
// 1,000. With none stale it is log10(total), the resolution of the sample
// (a lower bound); NaN without checks.
func Nines(total, bad int64) float64 {
	switch {
	case total == 0:
		return math.NaN()
	case bad == 0:
		return math.Log10(float64(total))
	}
	return -math.Log10(float64(bad) / float64(total))
}

// counts are the checks since start, for the report.
type counts struct {
	mu      sync.Mutex
	m       map[countKey]int64
	dropped int64
}

type countKey struct{ rule, window, result string }

func (c *counts) add(rule, window, result string) {
	c.mu.Lock()
	c.m[countKey{rule, window, result}]++
	c.mu.Unlock()
}

func (c *counts) addDropped() {
	c.mu.Lock()
	c.dropped++
	c.mu.Unlock()
}

// Count returns the key checks of rule ("" for every rule) at window with
// result since the observer started.
func (o *Observer) Count(rule, window, result string) int64 {
	o.counts.mu.Lock()
	defer o.counts.mu.Unlock()
	var n int64
	for k, v := range o.counts.m {
		if (rule == "" || k.rule == rule) && k.window == window && k.result == result {
			n += v
		}
	}
	return n
}

// Dropped is the number of samples dropped because the queue was full.
func (o *Observer) Dropped() int64 {
	o.counts.mu.Lock()
	defer o.counts.mu.Unlock()
	return o.counts.dropped
}

// Windows are the window labels, shortest first.
func (o *Observer) Windows() []string { return slices.Clone(o.labels) }

// Report writes the counts since start: per rule and window, the key
// checks by result, the stale share and its nines.
func (o *Observer) Report(w io.Writer) {
	o.counts.mu.Lock()
	rules := map[string]bool{}
	for k := range o.counts.m {
		rules[k.rule] = true
	}
	dropped := o.counts.dropped
	o.counts.mu.Unlock()
	names := make([]string, 0, len(rules))
	for r := range rules {
		names = append(names, r)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rule\twindow\tchecked\tconsistent\tstale\tsuperseded\tunreadable\terrors\tnines\t")
	for _, r := range names {
		for i, win := range o.labels {
			last := i == len(o.labels)-1
			ok, sus, inc := o.Count(r, win, Consistent), o.Count(r, win, Suspect), o.Count(r, win, Inconsistent)
			sup, unr, fail := o.Count(r, win, Superseded), o.Count(r, win, Unreadable), o.Count(r, win, Failed)
			stale := sus + inc
			staleCol := fmt.Sprint(stale)
			if last {
				staleCol += " confirmed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t\n", r, win, ok+stale+sup+unr+fail, ok, staleCol, sup, unr, fail, showNines(ok+stale, stale))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "samples dropped (observe.queue full): %d\n", dropped)
	fmt.Fprintln(w, "nines = -log10(stale/checked); \"≥ N\" when none was stale (N = log10 of the checks: the sample can show no more)")
}

func showNines(total, bad int64) string {
	v := Nines(total, bad)
	switch {
	case math.IsNaN(v):
		return "-"
	case bad == 0:
		return "≥ " + strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	}
	return fmt.Sprintf("%.2f", v)
}
