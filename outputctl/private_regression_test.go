package outputctl_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

func logisticDesign(t *testing.T, seed uint64, n int, beta []float64) *analysis.Design {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 77))
	x1, x2, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x1[i] = rng.NormFloat64()
		x2[i] = b2f(rng.Float64() < 0.3)
		y[i] = b2f(rng.Float64() < 1/(1+math.Exp(-(beta[0]+beta[1]*x1[i]+beta[2]*x2[i]))))
	}
	tbl, err := analysis.NewTable(analysis.Column{Name: "x1", Values: x1}, analysis.Column{Name: "x2", Values: x2}, analysis.Column{Name: "y", Values: y})
	if err != nil {
		t.Fatal(err)
	}
	d, err := analysis.NewDesign(tbl, "y", []string{"x1", "x2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A private logistic fit on a large cohort: its 95% intervals, which
// account for the privacy noise as well as sampling, cover the generating
// coefficients at about the nominal rate, and the whole epsilon is spent.
func TestPrivateLogisticCoversTheTruth(t *testing.T) {
	truth := []float64{-1, 0.5, 0.7}
	pr := outputctl.PrivateRegression{Bounds: []analysis.Bounds{{Lower: -4, Upper: 4}, {Lower: 0, Upper: 1}}}
	const seeds = 50
	covered, total := 0, 0
	var width float64
	for seed := range uint64(seeds) {
		d := logisticDesign(t, seed, 50000, truth)
		r := private(2000, 2000, seed)
		rel, err := r.RegressPrivate(d, analysis.Logit, pr)
		if err != nil {
			t.Fatal(err)
		}
		if rel.EpsilonSpentMilli != 2000 || r.Budget.Remaining() != 0 || !rel.Noisy {
			t.Fatalf("spent %d", rel.EpsilonSpentMilli)
		}
		for j, c := range rel.Regression.Coefficients {
			total++
			if c.Lower <= truth[j] && truth[j] <= c.Upper {
				covered++
			}
		}
		width += rel.Regression.Coefficients[1].Upper - rel.Regression.Coefficients[1].Lower
	}
	rate := float64(covered) / float64(total)
	t.Logf("private logistic (n = 50000, ε = 2): coverage %.3f over %d intervals; mean CI width for x1 %.4f", rate, total, width/seeds)
	if rate < 0.88 || rate > 0.995 {
		t.Errorf("coverage %.3f", rate)
	}
}

// A private linear regression from noisy sufficient statistics lands near
// the least-squares fit.
func TestPrivateLinearRegression(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 50000
	age, sbp := make([]float64, n), make([]float64, n)
	for i := range n {
		age[i] = 30 + 50*rng.Float64()
		sbp[i] = 100 + 0.6*age[i] + 10*rng.NormFloat64()
	}
	tbl, _ := analysis.NewTable(analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "sbp", Values: sbp})
	d, err := analysis.NewDesign(tbl, "sbp", []string{"age"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := private(1000, 1000, 3).RegressPrivate(d, analysis.Identity, outputctl.PrivateRegression{
		Bounds: []analysis.Bounds{{Lower: 20, Upper: 90}}, OutcomeBounds: &analysis.Bounds{Lower: 60, Upper: 220}})
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "sbp", Features: []string{"age"}, Link: analysis.Identity})
	for j, c := range rel.Regression.Coefficients {
		e := exact.Coefficients[j]
		t.Logf("%s: private %.4f (SE %.4f), exact %.4f (SE %.4f)", c.Name, c.Estimate, c.SE, e.Estimate, e.SE)
		if math.Abs(c.Estimate-e.Estimate) > 4*c.SE {
			t.Errorf("%s: private %.4f is more than 4 SE from the exact %.4f", c.Name, c.Estimate, e.Estimate)
		}
	}
}

func TestPrivateRegressionRefusals(t *testing.T) {
	d := logisticDesign(t, 1, 2000, []float64{-1, 0.5, 0.7})
	pr := outputctl.PrivateRegression{Bounds: []analysis.Bounds{{Lower: -4, Upper: 4}, {Lower: 0, Upper: 1}}}
	if _, err := private(1000, 1000, 1).RegressPrivate(d, analysis.CLogLog, pr); err == nil {
		t.Error("cloglog accepted")
	}
	if _, err := exact().RegressPrivate(d, analysis.Logit, pr); err == nil {
		t.Error("a policy without epsilon accepted")
	}
	r := private(1000, 1000, 1)
	r.Policy.MinCohort = 5000
	if _, err := r.RegressPrivate(d, analysis.Logit, pr); !errors.Is(err, outputctl.ErrBelowMinCohort) || r.Budget.SpentMilli != 0 {
		t.Errorf("below min cohort: %v, spent %d", err, r.Budget.SpentMilli)
	}
	if _, err := private(1000, 1000, 1).RegressPrivate(d, analysis.Logit, outputctl.PrivateRegression{}); err == nil {
		t.Error("missing bounds accepted")
	}
	// A small cohort at a small epsilon: the noise swamps the information
	// matrix, or at best leaves enormous intervals.
	rel, err := private(100, 100, 1).RegressPrivate(d, analysis.Logit, pr)
	if err == nil && rel.Regression.Coefficients[1].Upper-rel.Regression.Coefficients[1].Lower < 1 {
		t.Errorf("n = 2000 at ε = 0.1 gave a tight interval: %+v", rel.Regression.Coefficients[1])
	}
	t.Logf("n = 2000, ε = 0.1: %v", err)
}
