package outputctl_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// rocFit is a logistic fit that passes the regression rules (MinCohort 50,
// MinCell 11) with the given events, carrying an unrounded curve.
func rocFit(n, events int64) analysis.Regression {
	reg := analysis.Regression{
		Link: analysis.Logit, Outcome: "y", StatName: "z", N: n, Events: events, AUC: 0.7,
		Coefficients: []analysis.Coefficient{{Name: "intercept"}, {Name: "age"}},
	}
	for k := 0; k <= analysis.ROCGridSteps; k++ {
		f := float64(k) / analysis.ROCGridSteps
		reg.ROC = append(reg.ROC, analysis.ROCPoint{FPR: f, TPR: math.Sqrt(f) + 0.001234*f*(1-f)})
	}
	return reg
}

func TestReleaseRegressionROC(t *testing.T) {
	// Events 60 and non-events 440, both ≥ MinCohort 50: released, rounded.
	reg := rocFit(500, 60)
	orig := append([]analysis.ROCPoint(nil), reg.ROC...)
	rel, err := exact().ReleaseRegression(reg)
	if err != nil {
		t.Fatal(err)
	}
	if rel.ROCSuppressed || len(rel.Regression.ROC) != analysis.ROCGridSteps+1 {
		t.Fatalf("curve not released: %+v", rel)
	}
	for i, p := range rel.Regression.ROC {
		if p.FPR != orig[i].FPR || math.Abs(p.TPR-orig[i].TPR) > 0.005+1e-12 || p.TPR != math.Round(p.TPR*100)/100 {
			t.Fatalf("point %d: released %+v from %+v", i, p, orig[i])
		}
	}
	if reg.ROC[3] != orig[3] {
		t.Fatal("release rounded the caller's curve in place")
	}
	b, _ := json.Marshal(rel)
	if !strings.Contains(string(b), `{"fpr":0.05,"tpr":0.22}`) || strings.Contains(string(b), "roc_suppressed") {
		t.Fatalf("JSON: %s", b)
	}

	// Events 30: enough for the regression (≥ MinCell) but not for the
	// curve (< MinCohort) — the fit is released, the curve withheld.
	for _, r := range []analysis.Regression{rocFit(500, 30), rocFit(500, 470)} {
		rel, err := exact().ReleaseRegression(r)
		if err != nil {
			t.Fatal(err)
		}
		if !rel.ROCSuppressed || rel.Regression.ROC != nil || rel.Regression.AUC != 0.7 {
			t.Fatalf("events %d of %d: curve released: %+v", r.Events, r.N, rel)
		}
		b, _ := json.Marshal(rel)
		if strings.Contains(string(b), `"roc":`) || !strings.Contains(string(b), `"roc_suppressed":true`) {
			t.Fatalf("JSON: %s", b)
		}
	}

	// A fit without a curve (pooled fits have none): nothing to withhold.
	noCurve := rocFit(500, 60)
	noCurve.ROC, noCurve.AUC = nil, 0
	if rel, err := exact().ReleaseRegression(noCurve); err != nil || rel.ROCSuppressed || rel.Regression.ROC != nil {
		t.Fatalf("no curve: %+v, %v", rel, err)
	}
}

// A real fit end to end: the curve Regress computes is released rounded.
func TestReleaseRegressionROCFromFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	n := 2000
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = rng.NormFloat64()
		if rng.Float64() < 1/(1+math.Exp(-(x[i]-1))) {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "y", Values: y})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"x"}})
	if err != nil || len(reg.ROC) != analysis.ROCGridSteps+1 {
		t.Fatalf("fit: %v, %d points", err, len(reg.ROC))
	}
	rel, err := exact().ReleaseRegression(reg)
	if err != nil || rel.ROCSuppressed {
		t.Fatalf("release: %v, %+v", err, rel)
	}
	for i, p := range rel.Regression.ROC {
		if math.Abs(p.TPR-reg.ROC[i].TPR) > 0.005+1e-12 || p.TPR != math.Round(p.TPR*100)/100 {
			t.Fatalf("point %d: %+v from %+v", i, p, reg.ROC[i])
		}
	}
}
