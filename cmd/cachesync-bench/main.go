// Command cachesync-bench turns the output of the whole-process benchmarks
// (go test ./cmd/cachesync -bench 'Burst|Steady|LargeTransaction|CatchUp') into one
// table — each figure beside the floor's from the same run, and beside the
// target it is held to — and the same figures as JSON. scripts/bench.sh
// (make bench) runs both steps.
//
//	cachesync-bench [-json out.json] [-plots DIR] < bench.txt
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
	plotDir := flag.String("plots", "", "also draw PNG charts of the figures into this directory (and the latency samples found there)")
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
	if *plotDir != "" {
		wrote, err := plots(res, *plotDir)
		for _, f := range wrote {
			fmt.Println("plot:", f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cachesync-bench: plots:", err)
			os.Exit(1)
		}
	}
	if rep.Failed > 0 {
		os.Exit(3) // figures were produced; some miss their target
	}
}

// Result is one benchmark line: BenchmarkBurst/target=direct-2 → scenario
// "burst", target "direct", and its metrics by unit;
// BenchmarkCatchUp/n=1000000/target=kafka-2 → scenario "catchup n=1000000".
type Result struct {
	Scenario string             `json:"scenario"`
	Target   string             `json:"target"`
	Metrics  map[string]float64 `json:"metrics"`
}

// A steady line may end its name in /conns=N (updates from N connections;
// without it, 8): its scenario is then "steady 500/s 1 conn".
var lineRE = regexp.MustCompile(`^Benchmark(\w+)(?:/n=(\d+))?/target=([a-z]+(?:-[a-z]+)*)(?:/rate=(\d+))?(?:/conns=(\d+))?(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		res := Result{Scenario: strings.ToLower(m[1]), Target: m[3], Metrics: map[string]float64{}}
		if m[2] != "" {
			res.Scenario += " n=" + m[2]
		}
		if m[4] != "" {
			res.Scenario += " " + m[4] + "/s"
		}
		if m[5] != "" {
			res.Scenario += " " + m[5] + " conn"
		}
		f := strings.Fields(m[6])
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
	Note     string   `json:"note,omitempty"` // the ratio a relative goal was judged on
	Met      *bool    `json:"met,omitempty"`  // absent: no goal, or its reference is not in this run
}

// Report is every row plus how many goals were missed.
type Report struct {
	Rows   []Row `json:"rows"`
	Failed int   `json:"goals_missed"`
}

// report puts every figure beside the floor's figure of the same scenario
// and unit, and checks it against its goal.
func report(res []Result) Report {
	fig := map[string]float64{} // scenario|target|unit
	for _, r := range res {
		for u, v := range r.Metrics {
			fig[r.Scenario+"|"+r.Target+"|"+u] = v
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
			if f, ok := fig[r.Scenario+"|floor|"+u]; ok && r.Target != "floor" {
				row.Floor = &f
				if f != 0 {
					ratio := r.Metrics[u] / f
					row.Ratio = &ratio
				}
			}
			if g, ok := goals(r.Scenario, r.Target, u); ok {
				of := func(target string) (float64, bool) {
					v, ok := fig[r.Scenario+"|"+target+"|"+u]
					return v, ok
				}
				row.Goal = g.text
				if met, note, known := g.ok(row.Value, of); known {
					row.Met, row.Note = &met, note
					if !met {
						rep.Failed++
					}
				} else {
					row.Note = note
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
		if r.Goal != "" {
			met = r.Goal
			if r.Note != "" {
				met += " (" + r.Note + ")"
			}
			if r.Met != nil {
				met += map[bool]string{true: " ok", false: " MISSED"}[*r.Met]
			}
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
