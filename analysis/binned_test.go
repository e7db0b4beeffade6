package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// With one distinct score per bin, the binned AUC is the Mann–Whitney AUC;
// ties within a bin count half.
func TestBinnedAUC(t *testing.T) {
	// Bins low→high: events 0,1,2 and non-events 3,1,0.
	ev, ne := []float64{0, 1, 2}, []float64{3, 1, 0}
	// Pairs: 3 events × 4 non-events = 12; an event above a non-event:
	// bin1 event vs bin0 (3) + tie with bin1 non-event (½); bin2 events
	// (2) vs 4 non-events (8) → 11.5/12.
	if got := BinnedAUC(ev, ne); math.Abs(got-11.5/12) > 1e-12 {
		t.Fatalf("AUC %v, want %v", got, 11.5/12)
	}
	if !math.IsNaN(BinnedAUC([]float64{0, 0}, []float64{1, 2})) {
		t.Fatal("AUC without events must be NaN")
	}
	// Noisy negative counts count as zero.
	if got := BinnedAUC([]float64{-2, 1, 2}, []float64{3, 1, -1}); math.Abs(got-11.5/12) > 1e-12 {
		t.Fatalf("AUC with negative counts %v", got)
	}
}

// Grouped outcomes drawn from their own predicted risks are calibrated:
// intercept near 0, slope near 1; drawn from risks twice as extreme on the
// logit scale, the slope is near 2.
func TestGroupedCalibration(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ slope float64 }{{1}, {2}} {
		var ev, n, mp []float64
		for g := range 10 {
			p := 0.05 + 0.09*float64(g)
			lg := math.Log(p / (1 - p))
			truep := 1 / (1 + math.Exp(-tc.slope*lg))
			e := 0
			for range 20000 {
				if rng.Float64() < truep {
					e++
				}
			}
			ev, n, mp = append(ev, float64(e)), append(n, 20000), append(mp, p)
		}
		c, err := GroupedCalibration(ev, n, mp)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(c.Intercept) > 0.05 || math.Abs(c.Slope-tc.slope) > 0.05 {
			t.Errorf("slope %v: fitted intercept %.3f slope %.3f", tc.slope, c.Intercept, c.Slope)
		}
	}
	if _, err := GroupedCalibration([]float64{1}, []float64{10}, []float64{0.2}); err == nil {
		t.Fatal("one group cannot give a slope")
	}
}
