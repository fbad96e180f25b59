package main

import (
	"bufio"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The charts cachesync-bench draws from a run's figures (-plots DIR):
//
//	catchup.png         catch-up rows/s per target, one group per backlog size
//	steady-latency.png  steady-state p50, p99 and max per target and rate
//	steady-cdf.png      the whole latency distribution per target and rate,
//	                    from the samples BenchmarkSteady saved in DIR
//	                    (CACHESYNC_BENCH_SAMPLES), when there are any
//
// Each is drawn only when the run has its figures; plots lists what it wrote.

// catchUpOrder is the order of the bars in a group: the ceiling first.
var catchUpOrder = []string{"decode-only", "floor", "direct", "kafka", "kafka-batch", "writethrough-direct", "writethrough-kafka"}

func plots(res []Result, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var wrote []string
	for _, d := range []struct {
		name string
		draw func([]Result, string) (bool, error)
	}{
		{"catchup.png", plotCatchUp},
		{"steady-latency.png", plotSteady},
		{"steady-cdf.png", func(_ []Result, path string) (bool, error) { return plotCDF(dir, path) }},
	} {
		path := filepath.Join(dir, d.name)
		ok, err := d.draw(res, path)
		if err != nil {
			return wrote, fmt.Errorf("%s: %w", d.name, err)
		}
		if ok {
			wrote = append(wrote, path)
		}
	}
	return wrote, nil
}

// plotCatchUp: a bar per target, a group per backlog size.
func plotCatchUp(res []Result, path string) (bool, error) {
	val := map[string]float64{} // scenario|target
	var sizes, targets []string
	for _, r := range res {
		v, ok := r.Metrics["rows/s"]
		if !strings.HasPrefix(r.Scenario, "catchup") || !ok {
			continue
		}
		val[r.Scenario+"|"+r.Target] = v
		if !slices.Contains(sizes, r.Scenario) {
			sizes = append(sizes, r.Scenario)
		}
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
	}
	if len(sizes) == 0 {
		return false, nil
	}
	sort.SliceStable(targets, func(i, j int) bool { return rank(targets[i]) < rank(targets[j]) })
	p := plot.New()
	p.Title.Text = "Catch-up: a binlog backlog drained (higher is better)"
	p.Y.Label.Text = "thousand rows/s"
	p.Legend.Top, p.Legend.Left = true, true
	w := vg.Points(14)
	for i, tg := range targets {
		vs := make(plotter.Values, len(sizes))
		for j, s := range sizes {
			vs[j] = val[s+"|"+tg] / 1000
		}
		bar, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return false, err
		}
		bar.Color = seriesColor(i)
		bar.LineStyle.Width = 0
		bar.Offset = w * vg.Length(2*i-len(targets)+1) / 2
		p.Add(bar)
		p.Legend.Add(tg, bar)
	}
	// Room above the tallest bar for the legend, one line per target.
	top := 0.0
	for _, v := range val {
		top = max(top, v/1000)
	}
	p.Y.Max = top * (1.2 + 0.08*float64(len(targets)))
	names := make([]string, len(sizes))
	for i, s := range sizes {
		names[i] = rowsLabel(strings.TrimPrefix(s, "catchup n=")) + " rows waiting"
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	p.Y.Min, p.Y.Max = 0, p.Y.Max*(1.08+0.045*float64(len(targets))) // room for the legend
	return true, p.Save(vg.Length(max(6, 3*len(sizes)))*vg.Inch, 4.5*vg.Inch, path)
}

// rowsLabel writes 1000000 as 1M and 250000 as 250k.
func rowsLabel(n string) string {
	v, err := strconv.Atoi(n)
	switch {
	case err != nil:
		return n
	case v%1000000 == 0:
		return strconv.Itoa(v/1000000) + "M"
	case v%1000 == 0:
		return strconv.Itoa(v/1000) + "k"
	}
	return n
}

func rank(target string) int {
	if i := slices.Index(catchUpOrder, target); i >= 0 {
		return i
	}
	return len(catchUpOrder)
}

// plotSteady: p50, p99 and max of each steady run, on a log scale.
func plotSteady(res []Result, path string) (bool, error) {
	var names []string
	series := map[string]plotter.XYs{}
	units := []string{"p50-ms", "p99-ms", "max-ms"}
	for _, r := range res {
		if !strings.HasPrefix(r.Scenario, "steady") {
			continue
		}
		x := float64(len(names))
		names = append(names, r.Target+" "+strings.TrimPrefix(r.Scenario, "steady "))
		for _, u := range units {
			if v, ok := r.Metrics[u]; ok {
				series[u] = append(series[u], plotter.XY{X: x, Y: math.Max(v, 0.001)})
			}
		}
	}
	if len(names) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = "Steady rate: commit to key deleted, or set by write-through (lower is better)"
	p.Y.Label.Text = "ms (log scale)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	for i, u := range units {
		if len(series[u]) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(series[u])
		if err != nil {
			return false, err
		}
		sc.GlyphStyle.Shape = plotutil.Shape(i)
		sc.GlyphStyle.Color = seriesColor(i)
		sc.GlyphStyle.Radius = vg.Points(4)
		p.Add(sc)
		p.Legend.Add(strings.TrimSuffix(u, "-ms"), sc)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(p.Y.Min))), math.Pow(10, math.Ceil(math.Log10(p.Y.Max))+0.5)
	p.X.Tick.Label.Rotation, p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = math.Pi/6, draw.XRight, draw.YCenter
	p.Add(plotter.NewGrid())
	return true, p.Save(vg.Length(max(6, len(names)))*vg.Inch, 4.5*vg.Inch, path)
}

// plotCDF: each steady-*.txt sample file in dir as a line from latency to
// percentile, the y axis stretched towards the tail (50, 90, 99, 99.9...).
func plotCDF(dir, path string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "steady-*.txt"))
	if err != nil || len(files) == 0 {
		return false, err
	}
	sort.Strings(files)
	p := plot.New()
	p.Title.Text = "Steady rate: latency distribution"
	p.X.Label.Text = "commit to key deleted, ms (log scale)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Label.Text = "percentile"
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: nines(0.5), Label: "50"}, {Value: nines(0.9), Label: "90"},
		{Value: nines(0.99), Label: "99"}, {Value: nines(0.999), Label: "99.9"}, {Value: nines(0.9999), Label: "99.99"}}
	p.Legend.Top, p.Legend.Left = true, true
	for i, f := range files {
		lat, err := readSamples(f)
		if err != nil {
			return false, err
		}
		if len(lat) == 0 {
			continue
		}
		line, err := plotter.NewLine(cdfPoints(lat))
		if err != nil {
			return false, err
		}
		line.Color = seriesColor(i)
		line.Dashes = plotutil.Dashes(i / 7)
		line.Width = vg.Points(1.5)
		p.Add(line)
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "steady-"), ".txt")
		name, oneConn := strings.CutSuffix(name, "-1conn") // target-rate[-1conn]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] + " " + name[i+1:] + "/s"
		}
		if oneConn {
			name += " 1 conn"
		}
		p.Legend.Add(name, line)
	}
	p.Add(plotter.NewGrid())
	p.X.Min, p.X.Max = math.Pow(10, math.Floor(math.Log10(p.X.Min))), math.Pow(10, math.Ceil(math.Log10(p.X.Max)))
	return true, p.Save(7*vg.Inch, 5*vg.Inch, path)
}

// nines maps a quantile to -log10(1-q): 0.9 → 1, 0.99 → 2.
func nines(q float64) float64 { return -math.Log10(1 - q) }

// cdfPoints samples sorted latencies (µs) at up to ~500 quantiles, spread
// evenly on the nines scale, and the maximum.
func cdfPoints(lat []float64) plotter.XYs {
	n := len(lat)
	var pts plotter.XYs
	top := nines(float64(n) / float64(n+1))
	last := -1
	for k := 0; k <= 500; k++ {
		q := 1 - math.Pow(10, -top*float64(k)/500)
		i := min(n-1, int(q*float64(n)))
		if i == last {
			continue
		}
		last = i
		pts = append(pts, plotter.XY{X: math.Max(lat[i]/1000, 0.001), Y: nines(float64(i+1) / float64(n+1))})
	}
	return pts
}

// readSamples reads one latency in microseconds per line, sorted.
func readSamples(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", path, sc.Text())
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, sc.Err()
}

// tableau10 tells ten series apart (plotutil's palette has seven, and the
// catch-up chart has eight targets).
var tableau10 = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff}, {0x59, 0xa1, 0x4f, 0xff},
	{0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff}, {0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

func seriesColor(i int) color.Color { return tableau10[i%len(tableau10)] }
