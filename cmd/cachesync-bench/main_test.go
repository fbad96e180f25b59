package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkSteady/target=floor/rate=500-2         	       1	2998747896 ns/op	         2.338 max-ms	         0 missing	         0.1680 p50-ms	         0.3590 p99-ms	       500.2 updates/s
BenchmarkSteady/target=direct/rate=500-2        	       1	2998529811 ns/op	         3.199 max-ms	         0 missing	         0.1890 p50-ms	         1.4450 p99-ms	       500.2 updates/s
BenchmarkSteady/target=floor/rate=500/conns=1-2 	       1	9999061935 ns/op	         3.850 max-ms	         0 missing	         0 p50-ms	         0.6960 p99-ms	       500.0 updates/s
BenchmarkSteady/target=direct/rate=500/conns=1-2         	       1	9998415901 ns/op	         6.085 max-ms	         0 missing	         0.1970 p50-ms	         1.2000 p99-ms	       500.1 updates/s
BenchmarkSteady/target=kafka/rate=500/conns=1-2          	       1	9999399504 ns/op	        11.22 max-ms	         0 missing	         1.705 p50-ms	         3.985 p99-ms	       500.0 updates/s
BenchmarkSteady/target=writethrough-direct/rate=5000-2   	       1	10000179865 ns/op	         8.518 max-ms	         0 missing	         0.4230 p50-ms	         3.983 p99-ms	      5000 updates/s
BenchmarkSteady/target=writethrough-kafka/rate=5000-2    	       1	10000501630 ns/op	        35.42 max-ms	         0 missing	         1.920 p50-ms	        25.740 p99-ms	      5000 updates/s
BenchmarkBurst/target=floor-2                   	       1	1730994531 ns/op	        20.38 peak-RSS-MiB	    100000 rows/s
BenchmarkBurst/target=direct-2                  	       1	1683566630 ns/op	        39.12 peak-RSS-MiB	    80000 rows/s
BenchmarkBurst/target=kafka-2                   	       1	2481477232 ns/op	        83.43 peak-RSS-MiB	     80597 rows/s
BenchmarkCatchUp/n=1000000/target=decode-only-2         	       1	 1403571720 ns/op	        29.63 peak-RSS-MiB	    500000 rows/s
BenchmarkCatchUp/n=1000000/target=floor-2               	       1	 3341919270 ns/op	        72.96 peak-RSS-MiB	    250000 rows/s
BenchmarkCatchUp/n=1000000/target=direct-2              	       1	 2709166500 ns/op	        50.61 peak-RSS-MiB	    420000 rows/s
BenchmarkCatchUp/n=1000000/target=kafka-2               	       1	13603720880 ns/op	        75.27 peak-RSS-MiB	    240000 rows/s
BenchmarkCatchUp/n=1000000/target=kafka-batch-2         	       1	 2150048240 ns/op	        97.5 peak-RSS-MiB	    360000 rows/s
BenchmarkCatchUp/n=1000000/target=writethrough-direct-2 	       1	15540950470 ns/op	        84.55 peak-RSS-MiB	    216000 rows/s
BenchmarkCatchUp/n=1000000/target=writethrough-kafka-2  	       1	37955562830 ns/op	       111.7 peak-RSS-MiB	     26347 rows/s
BenchmarkCatchUp/n=5000000/target=direct-2              	       1	 2709166500 ns/op	        70 peak-RSS-MiB	    300000 rows/s
BenchmarkCatchUp/n=5000000/target=kafka-2               	       1	13603720880 ns/op	        75.27 peak-RSS-MiB	    190000 rows/s
PASS
`

func TestReport(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 19 || res[2].Scenario != "steady 500/s 1 conn" || res[2].Target != "floor" || res[0].Scenario != "steady 500/s" || res[0].Target != "floor" || res[0].Metrics["p99-ms"] != 0.359 {
		t.Fatalf("parsed %+v", res)
	}
	rep := report(res)
	find := func(scenario, figure, target string) Row {
		for _, r := range rep.Rows {
			if r.Scenario == scenario && r.Figure == figure && r.Target == target {
				return r
			}
		}
		t.Fatalf("no row %s %s %s", scenario, figure, target)
		return Row{}
	}
	for _, c := range []struct {
		scenario, figure, target string
		ratio                    float64 // 0: none
		met                      *bool
	}{
		{"burst", "rows/s", "direct", 0.8, ptr(true)},       // 0.8 >= 0.75
		{"burst", "rows/s", "kafka", 0.80597, ptr(false)},   // < 200,000
		{"burst", "peak-RSS-MiB", "direct", 0, ptr(true)},   // 39 <= 64
		{"steady 500/s", "p99-ms", "direct", 0, ptr(false)}, // 1.445 > 1
		{"steady 500/s", "missing", "direct", 0, ptr(true)},
		{"burst", "rows/s", "floor", 0, nil},
		{"steady 500/s 1 conn", "p99-ms", "direct", 1.2 / 0.696, ptr(false)}, // > 1.5 x floor
		{"steady 500/s 1 conn", "p99-ms", "kafka", 0, ptr(true)},             // 3.985 <= 5
		{"steady 500/s 1 conn", "missing", "direct", 0, ptr(true)},
		// catch-up: ratios to another target of the same backlog size
		{"catchup n=1000000", "rows/s", "decode-only", 0, nil},
		{"catchup n=1000000", "rows/s", "floor", 0, nil},
		{"catchup n=1000000", "rows/s", "direct", 1.68, ptr(true)},      // 0.84 x decode-only >= 0.8
		{"catchup n=1000000", "rows/s", "kafka", 0.96, ptr(false)},      // 0.571 x direct < 0.6
		{"catchup n=1000000", "rows/s", "kafka-batch", 1.44, ptr(true)}, // 0.857 x direct
		{"catchup n=1000000", "peak-RSS-MiB", "direct", 0, ptr(true)},
		{"catchup n=1000000", "peak-RSS-MiB", "kafka-batch", 0, ptr(false)}, // 97.5 > 96
		{"catchup n=1000000", "rows/s", "writethrough-direct", 0, ptr(true)},
		{"catchup n=1000000", "rows/s", "writethrough-kafka", 0, ptr(false)},
		{"catchup n=1000000", "peak-RSS-MiB", "writethrough-kafka", 0, nil},
		// write-through at a steady rate: p99 <= 19.8 ms on either transport
		{"steady 5000/s", "p99-ms", "writethrough-direct", 0, ptr(true)},
		{"steady 5000/s", "p99-ms", "writethrough-kafka", 0, ptr(false)}, // 25.74 > 19.8
		{"steady 5000/s", "missing", "writethrough-kafka", 0, ptr(true)},
		{"catchup n=5000000", "rows/s", "kafka", 0, ptr(true)},         // 0.63 x this size's direct (0.45 x 1M's)
		{"catchup n=5000000", "rows/s", "direct", 0, nil},              // no decode-only at 5M: not judged
		{"catchup n=5000000", "peak-RSS-MiB", "direct", 0, ptr(false)}, // 70 > 64 at 5M
	} {
		r := find(c.scenario, c.figure, c.target)
		if c.ratio != 0 && (r.Ratio == nil || abs(*r.Ratio-c.ratio) > 1e-6) {
			t.Errorf("%v: ratio %v, want %v", c, r.Ratio, c.ratio)
		}
		if (c.met == nil) != (r.Met == nil) || c.met != nil && *c.met != *r.Met {
			t.Errorf("%v: met %v, want %v", c, r.Met, c.met)
		}
	}
	if rep.Failed != 8 { // 7, and the Kafka write-through p99 above
		t.Errorf("%d goals missed, want 8", rep.Failed)
	}
	var out strings.Builder
	rep.print(&out)
	if !strings.Contains(out.String(), "MISSED") || !strings.Contains(out.String(), "8 goals missed") ||
		!strings.Contains(out.String(), ">= 0.8 x decode-only (0.840 x) ok") {
		t.Errorf("table:\n%s", out.String())
	}
}

func ptr(b bool) *bool { return &b }

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
