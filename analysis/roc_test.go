package analysis_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

func rocGrid(t *testing.T, pts []analysis.ROCPoint) {
	t.Helper()
	if len(pts) != analysis.ROCGridSteps+1 {
		t.Fatalf("%d points, want %d", len(pts), analysis.ROCGridSteps+1)
	}
	for k, p := range pts {
		if p.FPR != float64(k)/analysis.ROCGridSteps {
			t.Fatalf("point %d at FPR %v", k, p.FPR)
		}
		if k > 0 && p.TPR < pts[k-1].TPR {
			t.Fatalf("TPR not monotone at %d: %+v", k, pts)
		}
	}
	if pts[len(pts)-1].TPR != 1 {
		t.Fatalf("curve does not end at (1, 1): %+v", pts[len(pts)-1])
	}
}

func trapezoid(pts []analysis.ROCPoint) float64 {
	var a float64
	for i := 1; i < len(pts); i++ {
		a += (pts[i].FPR - pts[i-1].FPR) * (pts[i].TPR + pts[i-1].TPR) / 2
	}
	return a
}

func TestROCHandCases(t *testing.T) {
	// Perfect separation: every event above every non-event.
	pts, err := analysis.ROC([]float64{1, 2, 3, 4, 5, 6}, []float64{0, 0, 0, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	rocGrid(t, pts)
	for _, p := range pts[1:] {
		if p.TPR != 1 {
			t.Fatalf("perfect separation: TPR %v at FPR %v, want 1", p.TPR, p.FPR)
		}
	}
	// A constant predictor: one diagonal segment, TPR = FPR.
	pts, err = analysis.ROC([]float64{5, 5, 5, 5, 5, 5, 5}, []float64{0, 1, 0, 1, 1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	rocGrid(t, pts)
	for _, p := range pts {
		if math.Abs(p.TPR-p.FPR) > 1e-12 {
			t.Fatalf("constant predictor: TPR %v at FPR %v, want the diagonal", p.TPR, p.FPR)
		}
	}
	// Reversed: every event below every non-event; TPR 0 until FPR 1.
	pts, err = analysis.ROC([]float64{1, 2, 3, 4}, []float64{1, 1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	rocGrid(t, pts)
	for _, p := range pts[:len(pts)-1] {
		if p.TPR != 0 {
			t.Fatalf("reversed: TPR %v at FPR %v, want 0", p.TPR, p.FPR)
		}
	}
	// Four non-events and two events: scores (desc) 6+ 5− 4+ 3− 2− 1−.
	// Vertices (0,0) (0,½) (¼,½) (¼,1) (½,1) …; at FPR 0.05 the curve is
	// on the horizontal segment at ½, at 0.25 it reaches 1.
	pts, err = analysis.ROC([]float64{6, 5, 4, 3, 2, 1}, []float64{1, 0, 1, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	rocGrid(t, pts)
	if pts[0].TPR != 0.5 || pts[1].TPR != 0.5 || pts[4].TPR != 0.5 || pts[5].TPR != 1 {
		t.Fatalf("step curve: %+v", pts)
	}
	if _, err := analysis.ROC([]float64{1, 2}, []float64{1, 1}); err == nil {
		t.Error("ROC with no non-events accepted")
	}
}

// The curve Regress reports agrees with its AUC: the trapezoid area under
// the 21 grid points is within 0.02 of the AUC, on simulated data.
func TestRegressionROCAgreesWithAUC(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		r, err := analysis.Regress(simulate(seed, 4000, analysis.Logit, []float64{-1, 0.8, -0.5, 0.3}), analysis.RegressionParams{Outcome: "y", Features: simFeatures})
		if err != nil {
			t.Fatal(err)
		}
		rocGrid(t, r.ROC)
		if a := trapezoid(r.ROC); math.Abs(a-r.AUC) > 0.02 {
			t.Errorf("seed %d: area under the grid %.4f, AUC %.4f", seed, a, r.AUC)
		}
		b, _ := json.Marshal(r)
		if !strings.Contains(string(b), `"roc":[{"fpr":0,"tpr":`) || !strings.Contains(string(b), `{"fpr":0.15,"tpr":`) {
			t.Fatalf("JSON: %s", b)
		}
	}
	// A linear regression has no curve.
	r, err := analysis.Regress(simulate(1, 500, analysis.Logit, []float64{-1, 0.8, -0.5, 0.3}), analysis.RegressionParams{Outcome: "x1", Features: []string{"x2", "x3"}, Link: analysis.Identity})
	if err != nil || r.ROC != nil {
		t.Fatalf("linear regression: ROC %v, %v", r.ROC, err)
	}
}
