package torture

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// DefaultPause is the pause between a reader's MySQL read and its cache
// write when -pause is not given: most fills are quick, a few stall for up
// to the second delay, and one in a hundred stalls past it, up to ten
// times — the shape GC pauses, slow networks and overloaded hosts give it.
const DefaultPause = "90%:0-1ms,9%:1ms-1D,1%:1D-10D"

// Dist is a pause distribution: a mixture of ranges, each drawn with its
// weight. A range from 0 is uniform; a range from lo > 0 is log-uniform
// (every decade equally likely: heavy-tailed); lo = hi is that one value.
type Dist struct {
	spec  string
	parts []distPart
}

type distPart struct {
	cum    float64 // cumulative weight up to and including this part, in (0, 1]
	lo, hi time.Duration
}

// ParseDist reads a distribution written as comma-separated WEIGHT:LO-HI
// parts, e.g. DefaultPause. WEIGHT is a percentage ("9%") or a plain number;
// weights are normalized. LO and HI are Go durations ("1ms") or multiples of
// d, the second delay ("1D", "0.5D", "10D"); "5ms" alone means 5ms-5ms.
func ParseDist(spec string, d time.Duration) (Dist, error) {
	dist := Dist{spec: spec}
	var total float64
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		w, rng, ok := strings.Cut(part, ":")
		if !ok {
			return Dist{}, fmt.Errorf("pause %q: part %q is not WEIGHT:LO-HI", spec, part)
		}
		weight, err := parseWeight(w)
		if err != nil {
			return Dist{}, fmt.Errorf("pause %q: part %q: %w", spec, part, err)
		}
		los, his, isRange := strings.Cut(rng, "-")
		if !isRange {
			his = los
		}
		lo, err := parsePause(los, d)
		if err == nil {
			var hi time.Duration
			if hi, err = parsePause(his, d); err == nil && hi < lo {
				err = fmt.Errorf("%s is below %s", his, los)
			}
			total += weight
			dist.parts = append(dist.parts, distPart{cum: total, lo: lo, hi: hi})
		}
		if err != nil {
			return Dist{}, fmt.Errorf("pause %q: part %q: %w", spec, part, err)
		}
	}
	if total <= 0 {
		return Dist{}, fmt.Errorf("pause %q: the weights add up to 0", spec)
	}
	for i := range dist.parts {
		dist.parts[i].cum /= total
	}
	dist.parts[len(dist.parts)-1].cum = 1 // no rounding gap above the last part
	return dist, nil
}

func parseWeight(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	w, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
		return 0, fmt.Errorf("weight %q is not a number ≥ 0", s)
	}
	if pct {
		w /= 100
	}
	return w, nil
}

// parsePause reads a duration or a multiple of d ("10D").
func parsePause(s string, d time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m, ok := strings.CutSuffix(s, "D"); ok {
		f := 1.0
		if m != "" {
			var err error
			if f, err = strconv.ParseFloat(m, 64); err != nil || f < 0 {
				return 0, fmt.Errorf("%q is not a multiple of the second delay like 10D", s)
			}
		}
		return time.Duration(f * float64(d)), nil
	}
	p, err := time.ParseDuration(s)
	if err != nil || p < 0 {
		return 0, fmt.Errorf("%q is not a duration ≥ 0 (like 1ms) or a multiple of the second delay (like 10D)", s)
	}
	return p, nil
}

// Sample draws one pause.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	u := r.Float64()
	p := d.parts[len(d.parts)-1]
	for _, q := range d.parts {
		if u < q.cum {
			p = q
			break
		}
	}
	switch {
	case p.lo == p.hi:
		return p.lo
	case p.lo == 0:
		return time.Duration(r.Int64N(int64(p.hi) + 1))
	default: // log-uniform: as likely to be within 1–10ms as within 10–100ms
		lg := math.Log(float64(p.lo)) + r.Float64()*(math.Log(float64(p.hi))-math.Log(float64(p.lo)))
		return min(max(time.Duration(math.Exp(lg)), p.lo), p.hi)
	}
}

// Max is the longest pause the distribution can draw.
func (d Dist) Max() time.Duration {
	var m time.Duration
	for _, p := range d.parts {
		m = max(m, p.hi)
	}
	return m
}

// String is the spec it was parsed from.
func (d Dist) String() string { return d.spec }
