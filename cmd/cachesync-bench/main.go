// Command cachesync-bench turns the output of the whole-process benchmarks
// (go test ./cmd/cachesync -bench 'Burst|Steady|LargeTransaction') into one
// table — each figure beside the floor's from the same run, and beside the
// target it is held to — and the same figures as JSON. scripts/bench.sh
// (make bench) runs both steps.
//
//	cachesync-bench [-json out.json] < bench.txt
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	jsonPath := flag.String("json", "", "also write the figures as JSON to this file")
	flag.Parse()
	res, err := parse(os.Stdin)
	if err == nil && len(res) == 0 {
		err = fmt.Errorf("no benchmark lines on stdin: feed it the output of go test -bench")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachesync-bench:", err)
		os.Exit(1)
	}
	rep := report(res)
	rep.print(os.Stdout)
	if *jsonPath != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cachesync-bench:", err)
			os.Exit(1)
		}
	}
	if rep.Failed > 0 {
		os.Exit(3) // figures were produced; some miss their target
	}
}

// Result is one benchmark line: BenchmarkBurst/target=direct-2 → scenario
// "burst", target "direct", and its metrics by unit.
type Result struct {
	Scenario string             `json:"scenario"`
	Target   string             `json:"target"`
	Metrics  map[string]float64 `json:"metrics"`
}

// A steady line may end its name in /conns=N (updates from N connections;
// without it, 8): its scenario is then "steady 500/s 1 conn".
var lineRE = regexp.MustCompile(`^Benchmark(\w+)/target=([a-z]+(?:-[a-z]+)*)(?:/rate=(\d+))?(?:/conns=(\d+))?(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		res := Result{Scenario: strings.ToLower(m[1]), Target: m[2], Metrics: map[string]float64{}}
		if m[3] != "" {
			res.Scenario += " " + m[3] + "/s"
		}
		if m[4] != "" {
			res.Scenario += " " + m[4] + " conn"
		}
		f := strings.Fields(m[5])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %q is not a number", sc.Text(), f[i])
			}
			res.Metrics[f[i+1]] = v
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// Row is one figure of the report.
type Row struct {
	Scenario string   `json:"scenario"`
	Figure   string   `json:"figure"`
	Target   string   `json:"target"` // what was measured: floor, direct, kafka...
	Value    float64  `json:"value"`
	Floor    *float64 `json:"floor,omitempty"`
	Ratio    *float64 `json:"ratio_to_floor,omitempty"`
	Goal     string   `json:"goal,omitempty"` // the target, e.g. ">= 0.75 x floor"
	Met      *bool    `json:"met,omitempty"`
}

// Report is every row plus how many goals were missed.
type Report struct {
	Rows   []Row `json:"rows"`
	Failed int   `json:"goals_missed"`
}

// goal is a target from the benchmark issue for a scenario, target and unit.
type goal struct {
	text string
	ok   func(v, floor float64) bool
}

func atMost(limit float64, unit string) goal {
	return goal{fmt.Sprintf("<= %g %s", limit, unit), func(v, _ float64) bool { return v <= limit }}
}

func atLeast(limit float64, unit string) goal {
	return goal{fmt.Sprintf(">= %g %s", limit, unit), func(v, _ float64) bool { return v >= limit }}
}

func goals(scenario, target, unit string) (goal, bool) {
	if target == "floor" {
		return goal{}, false
	}
	if strings.HasPrefix(scenario, "steady") && unit == "missing" {
		return atMost(0, "updates"), true
	}
	// Per scenario and unit: the goal of the direct targets, then of the
	// Kafka ones.
	byFigure := map[string][2]goal{
		"burst|rows/s": {
			{">= 0.75 x floor", func(v, f float64) bool { return f > 0 && v >= 0.75*f }},
			atLeast(200000, "rows/s")},
		"burst|peak-RSS-MiB":            {atMost(64, "MiB"), atMost(96, "MiB")},
		"largetransaction|peak-RSS-MiB": {atMost(128, "MiB"), atMost(128, "MiB")},
		"steady 500/s|p99-ms":           {atMost(1, "ms"), atMost(5, "ms")},
		"steady 5000/s|p99-ms":          {atMost(3, "ms"), atMost(10, "ms")},
		// One writer: each update waits for its own commit, so the floor's
		// tail is the reference (issue 17).
		"steady 500/s 1 conn|p99-ms": {
			{"<= 1.5 x floor", func(v, f float64) bool { return f > 0 && v <= 1.5*f }},
			atMost(5, "ms")},
	}
	g, ok := byFigure[scenario+"|"+unit]
	if !ok {
		return goal{}, false
	}
	if strings.HasPrefix(target, "kafka") {
		return g[1], true
	}
	return g[0], true
}

// report puts every figure beside the floor's figure of the same scenario
// and unit, and checks it against its goal.
func report(res []Result) Report {
	floor := map[string]float64{}
	for _, r := range res {
		if r.Target == "floor" {
			for u, v := range r.Metrics {
				floor[r.Scenario+"|"+u] = v
			}
		}
	}
	var rep Report
	for _, r := range res {
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			if u != "ns/op" {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			row := Row{Scenario: r.Scenario, Figure: u, Target: r.Target, Value: r.Metrics[u]}
			if f, ok := floor[r.Scenario+"|"+u]; ok && r.Target != "floor" {
				row.Floor = &f
				if f != 0 {
					ratio := r.Metrics[u] / f
					row.Ratio = &ratio
				}
			}
			if g, ok := goals(r.Scenario, r.Target, u); ok {
				met := g.ok(row.Value, floor[r.Scenario+"|"+u])
				row.Goal, row.Met = g.text, &met
				if !met {
					rep.Failed++
				}
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	return rep
}

func (rep Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\ttarget\tvalue\tfloor\tratio\tgoal\t")
	for _, r := range rep.Rows {
		floor, ratio, met := "", "", ""
		if r.Floor != nil {
			floor = num(*r.Floor)
		}
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *r.Ratio)
		}
		if r.Met != nil {
			met = r.Goal + map[bool]string{true: " ok", false: " MISSED"}[*r.Met]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Figure, r.Target, num(r.Value), floor, ratio, met)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d goals missed\n", rep.Failed)
}

func num(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
