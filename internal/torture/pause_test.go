package torture

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseDistDefault(t *testing.T) {
	d, err := ParseDist(DefaultPause, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if d.Max() != 500*time.Millisecond {
		t.Errorf("Max = %v, want 10D = 500ms", d.Max())
	}
	if d.String() != DefaultPause {
		t.Errorf("String = %q", d.String())
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	var under1ms, toD, overD int
	for range n {
		p := d.Sample(r)
		switch {
		case p < 0 || p > 500*time.Millisecond:
			t.Fatalf("sample %v outside 0–10D", p)
		case p <= time.Millisecond:
			under1ms++
		case p <= 50*time.Millisecond:
			toD++
		default:
			overD++
		}
	}
	// 90% / 9% / 1%, within a margin far above the sampling noise of 200k draws.
	check := func(what string, got int, want float64) {
		if f := float64(got) / n; f < want*0.9 || f > want*1.1 {
			t.Errorf("%s: %.4f of the samples, want %.2f", what, f, want)
		}
	}
	check("0–1ms", under1ms, 0.90)
	check("1ms–D", toD, 0.09)
	check("D–10D", overD, 0.01)
}

// TestDistLogUniform: a range from lo > 0 is heavy-tailed, each decade as
// likely as the next.
func TestDistLogUniform(t *testing.T) {
	d, err := ParseDist("1:1ms-1s", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var dec [3]int
	const n = 90000
	for range n {
		p := d.Sample(r)
		switch {
		case p < time.Millisecond || p > time.Second:
			t.Fatalf("sample %v outside 1ms–1s", p)
		case p < 10*time.Millisecond:
			dec[0]++
		case p < 100*time.Millisecond:
			dec[1]++
		default:
			dec[2]++
		}
	}
	for i, c := range dec {
		if c < n/3*9/10 || c > n/3*11/10 {
			t.Errorf("decade %d holds %d of %d samples, want about a third", i, c, n)
		}
	}
}

func TestDistFixedAndMultiples(t *testing.T) {
	d, err := ParseDist("2:0, 1:0.5D, 1 : 3D-3D", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[time.Duration]int{}
	for range 4000 {
		seen[d.Sample(r)]++
	}
	if len(seen) != 3 || seen[0] < 1800 || seen[50*time.Millisecond] < 800 || seen[300*time.Millisecond] < 800 {
		t.Errorf("samples %v: want only 0 (half), 50ms and 300ms (a quarter each)", seen)
	}
	if d.Max() != 300*time.Millisecond {
		t.Errorf("Max = %v", d.Max())
	}
}

func TestParseDistErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":              "not WEIGHT:LO-HI",
		"90%":           "not WEIGHT:LO-HI",
		"x:1ms":         `weight "x"`,
		"-1:1ms":        `weight "-1"`,
		"1:5ms-1ms":     "1ms is below 5ms",
		"1:-1ms":        "is not a duration",
		"1:fastD":       "not a multiple",
		"0:1ms,0%:2ms":  "add up to 0",
		"1:1ms,1:1h-zz": `"zz"`,
	} {
		_, err := ParseDist(spec, time.Second)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDist(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}
