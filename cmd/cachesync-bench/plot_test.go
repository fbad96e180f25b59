package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlots(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Two runs' latency samples, as BenchmarkSteady saves them.
	for name, body := range map[string]string{
		"steady-direct-500.txt": "150\n190\n210\n1445\n3199\n",
		"steady-floor-500.txt":  "120\n168\n200\n359\n2338\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wrote, err := plots(res, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrote) != 3 {
		t.Fatalf("wrote %q, want catchup, steady-latency and steady-cdf", wrote)
	}
	for _, f := range wrote {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(raw)); err != nil || cfg.Width < 400 {
			t.Errorf("%s: not a chart (%v, %+v)", f, err, cfg)
		}
	}

	// The chart is drawn from the figures: another figure, another chart.
	before, _ := os.ReadFile(filepath.Join(dir, "catchup.png"))
	res2, _ := parse(strings.NewReader(strings.Replace(sample, "420000 rows/s", "120000 rows/s", 1)))
	if _, err := plotCatchUp(res2, filepath.Join(dir, "catchup.png")); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "catchup.png")); bytes.Equal(before, after) {
		t.Error("catchup.png did not change with the direct target's figure")
	}

	// No catch-up or steady figures, no samples: nothing drawn.
	burstOnly, _ := parse(strings.NewReader("BenchmarkBurst/target=floor-2  1  1 ns/op  100000 rows/s\n"))
	if wrote, err := plots(burstOnly, t.TempDir()); err != nil || len(wrote) != 0 {
		t.Errorf("burst only: wrote %q, %v", wrote, err)
	}
}

func TestCDFPoints(t *testing.T) {
	lat := make([]float64, 10000)
	for i := range lat {
		lat[i] = float64(i + 1) // 1..10,000 µs
	}
	pts := cdfPoints(lat)
	if len(pts) < 100 || len(pts) > 502 {
		t.Fatalf("%d points", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].X < pts[i-1].X || pts[i].Y <= pts[i-1].Y {
			t.Fatalf("not increasing at %d: %v then %v", i, pts[i-1], pts[i])
		}
	}
	if last := pts[len(pts)-1]; last.X != 10 { // the maximum, 10 ms
		t.Errorf("last point %v, want the maximum 10 ms", last)
	}
	for _, p := range pts { // the median is 5 ms, at y = nines(0.5)
		if p.X >= 5 {
			if p.Y < nines(0.49) || p.Y > nines(0.51) {
				t.Errorf("5 ms at %v, want about the 50th percentile", p.Y)
			}
			break
		}
	}
}
