package analysis_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/medchain/medchain/analysis"
)

// simulate draws n rows from a binary regression with the given link and
// coefficients: x1 standard normal, x2 0/1 with probability 0.4, x3
// uniform on (−1, 1).
func simulate(seed uint64, n int, link analysis.Link, beta []float64) *analysis.Table {
	rng := rand.New(rand.NewPCG(seed, 99))
	x1, x2, x3, y := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x1[i] = rng.NormFloat64()
		if rng.Float64() < 0.4 {
			x2[i] = 1
		}
		x3[i] = 2*rng.Float64() - 1
		eta := beta[0] + beta[1]*x1[i] + beta[2]*x2[i] + beta[3]*x3[i]
		if rng.Float64() < link.Mean(eta) {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(
		analysis.Column{Name: "x1", Values: x1}, analysis.Column{Name: "x2", Values: x2},
		analysis.Column{Name: "x3", Values: x3}, analysis.Column{Name: "y", Values: y})
	if err != nil {
		panic(err)
	}
	return tbl
}

var simFeatures = []string{"x1", "x2", "x3"}

// Data drawn from a logistic model with known coefficients, 200 times: the
// 95% Wald intervals cover the truth in 93–97% of the 800 intervals.
func TestLogisticIntervalsCoverTheTruth(t *testing.T) {
	truth := []float64{-1, 0.8, -0.5, 0.3}
	coverage(t, analysis.Logit, truth, 200, 500)
}

// The same for the complementary log-log link, with coefficients of
// Framingham-like size on a 10-year risk scale.
func TestCLogLogIntervalsCoverTheTruth(t *testing.T) {
	truth := []float64{-2.5, 0.6, 0.5, -0.4}
	coverage(t, analysis.CLogLog, truth, 200, 1000)
}

func coverage(t *testing.T, link analysis.Link, truth []float64, seeds, n int) {
	covered := make([]int, len(truth))
	for seed := range uint64(seeds) {
		r, err := analysis.Regress(simulate(seed, n, link, truth), analysis.RegressionParams{Outcome: "y", Features: simFeatures, Link: link})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for j, c := range r.Coefficients {
			if c.Lower <= truth[j] && truth[j] <= c.Upper {
				covered[j]++
			}
		}
	}
	total := 0
	for j, c := range covered {
		total += c
		t.Logf("%s β%d: %d/%d intervals cover %v", link, j, c, seeds, truth[j])
	}
	rate := float64(total) / float64(seeds*len(truth))
	t.Logf("%s: overall coverage %.3f", link, rate)
	if rate < 0.93 || rate > 0.97 {
		t.Errorf("%s: 95%% intervals cover the truth %.1f%% of the time", link, 100*rate)
	}
}

// A complementary log-log fit recovers the coefficients of a Framingham
// general-CVD risk model (D'Agostino et al., Circulation 2008, women):
// 10-year risk = 1 − S₀^exp(Σβ·x − Σβ·x̄) with S₀ = 0.95012, which is
// exactly cloglog(risk) = log(−log S₀) − Σβ·x̄ + Σβ·x.
func TestCLogLogRecoversFraminghamCoefficients(t *testing.T) {
	const n = 20000
	names := []string{"ln_age", "ln_tc", "ln_hdl", "ln_sbp", "smoker", "diabetes"}
	beta := []float64{2.32888, 1.20904, -0.70833, 2.76157, 0.52873, 0.69154}
	intercept := math.Log(-math.Log(0.95012)) - 26.1931
	rng := rand.New(rand.NewPCG(2008, 1))
	cols := make([][]float64, len(names)+1)
	for j := range cols {
		cols[j] = make([]float64, n)
	}
	clamp := func(v, lo, hi float64) float64 { return min(max(v, lo), hi) }
	for i := range n {
		x := []float64{
			math.Log(30 + 44*rng.Float64()),
			math.Log(clamp(210+40*rng.NormFloat64(), 100, 400)),
			math.Log(clamp(55+15*rng.NormFloat64(), 20, 120)),
			math.Log(clamp(125+18*rng.NormFloat64(), 90, 220)),
			b2f(rng.Float64() < 0.2),
			b2f(rng.Float64() < 0.08),
		}
		eta := intercept
		for j, v := range x {
			cols[j][i] = v
			eta += beta[j] * v
		}
		cols[len(names)][i] = b2f(rng.Float64() < analysis.CLogLog.Mean(eta))
	}
	var tcols []analysis.Column
	for j, name := range append(names, "cvd") {
		tcols = append(tcols, analysis.Column{Name: name, Values: cols[j]})
	}
	r, err := analysis.Regress(table(t, tcols...), analysis.RegressionParams{Outcome: "cvd", Features: names, Link: analysis.CLogLog})
	if err != nil {
		t.Fatal(err)
	}
	truth := append([]float64{intercept}, beta...)
	for j, c := range r.Coefficients {
		z := (c.Estimate - truth[j]) / c.SE
		t.Logf("%-9s true %8.4f  fitted %8.4f (SE %.4f)  HR %.3f", c.Name, truth[j], c.Estimate, c.SE, math.Exp(c.Estimate))
		if math.Abs(z) > 4 {
			t.Errorf("%s: fitted %.4f is %.1f SE from the generating %.4f", c.Name, c.Estimate, z, truth[j])
		}
	}
	t.Logf("n %d, events %d, AUC %.3f, calibration %+v, HL %+v", r.N, r.Events, r.AUC, *r.Calibration, *r.HosmerLemeshow)
}

// Simple regression worked by hand: x = 1…5, y = 2 4 5 4 5. x̄ = 3, ȳ = 4,
// Sxx = 10, Sxy = 6: slope 0.6, intercept 2.2; residuals −0.8 0.6 1 −0.6
// −0.2, RSS 2.4, σ² = 0.8 on 3 df; SE(slope) = √(0.8/10), SE(intercept) =
// √(0.8·(1/5 + 9/10)); R² = 1 − 2.4/6 = 0.6.
func TestLinearRegressionByHand(t *testing.T) {
	tbl := table(t, analysis.Column{Name: "x", Values: []float64{1, 2, 3, 4, 5}}, analysis.Column{Name: "y", Values: []float64{2, 4, 5, 4, 5}})
	r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"x"}, Link: analysis.Identity})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-12*max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, want %.15g", what, got, want)
		}
	}
	near("intercept", r.Coefficients[0].Estimate, 2.2)
	near("slope", r.Coefficients[1].Estimate, 0.6)
	near("SE(intercept)", r.Coefficients[0].SE, math.Sqrt(0.8*1.1))
	near("SE(slope)", r.Coefficients[1].SE, math.Sqrt(0.08))
	near("R²", r.RSquared, 0.6)
	near("σ", r.Sigma, math.Sqrt(0.8))
	if r.DF != 3 || r.StatName != "t" || r.Coefficients[1].Ratio != nil {
		t.Errorf("df %d stat %s ratio %v", r.DF, r.StatName, r.Coefficients[1].Ratio)
	}
}

// Several features: the coefficients solve the normal equations, checked
// against a QR least-squares solve.
func TestLinearRegressionMatchesLeastSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 300
	x := mat.NewDense(n, 4, nil)
	y := make([]float64, n)
	cols := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	for i := range n {
		x.Set(i, 0, 1)
		for j := range 3 {
			v := rng.NormFloat64() * float64(j+1) * 10
			x.Set(i, j+1, v)
			cols[j][i] = v
		}
		y[i] = 3 + 0.5*cols[0][i] - 0.2*cols[1][i] + 0.01*cols[2][i] + rng.NormFloat64()
	}
	var want mat.VecDense
	if err := want.SolveVec(x, mat.NewVecDense(n, y)); err != nil {
		t.Fatal(err)
	}
	tbl := table(t, analysis.Column{Name: "a", Values: cols[0]}, analysis.Column{Name: "b", Values: cols[1]},
		analysis.Column{Name: "c", Values: cols[2]}, analysis.Column{Name: "y", Values: y})
	r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"a", "b", "c"}, Link: analysis.Identity})
	if err != nil {
		t.Fatal(err)
	}
	for j, c := range r.Coefficients {
		if math.Abs(c.Estimate-want.AtVec(j)) > 1e-9*max(1, math.Abs(want.AtVec(j))) {
			t.Errorf("%s: %.12g, least squares %.12g", c.Name, c.Estimate, want.AtVec(j))
		}
	}
}

func TestAUCSmallCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		score []float64
		y     []float64
		want  float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{0, 0, 1, 1}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{1, 1, 0, 0}, 0},
		{"constant predictor", []float64{5, 5, 5, 5, 5}, []float64{0, 1, 0, 1, 1}, 0.5},
		// Events score 2, 3; non-events 1, 2: pairs (2,1) win, (2,2) tie,
		// (3,1) win, (3,2) win → 3.5/4.
		{"ties", []float64{1, 2, 2, 3}, []float64{0, 1, 0, 1}, 0.875},
		{"one of each", []float64{0.3, 0.7}, []float64{1, 0}, 0},
	} {
		got, err := analysis.AUC(tc.score, tc.y)
		if err != nil || got != tc.want {
			t.Errorf("%s: AUC %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := analysis.AUC([]float64{1, 2}, []float64{1, 1}); err == nil {
		t.Error("AUC with no non-events accepted")
	}
}

// The merge-based AUC agrees with counting every pair, on data with many
// ties.
func TestAUCMatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	score, y := make([]float64, 400), make([]float64, 400)
	for i := range score {
		score[i] = float64(rng.IntN(12))
		y[i] = b2f(rng.Float64() < 0.2+0.05*score[i])
	}
	var num, pairs float64
	for i := range score {
		for j := range score {
			if y[i] == 1 && y[j] == 0 {
				pairs++
				switch {
				case score[i] > score[j]:
					num++
				case score[i] == score[j]:
					num += 0.5
				}
			}
		}
	}
	got, err := analysis.AUC(score, y)
	if err != nil || math.Abs(got-num/pairs) > 1e-15 {
		t.Errorf("AUC %v, %v; pair count %v", got, err, num/pairs)
	}
}

// Hosmer–Lemeshow on a correctly specified model is unremarkable; on a
// model missing a strong quadratic term it is damning.
func TestHosmerLemeshow(t *testing.T) {
	r, err := analysis.Regress(simulate(11, 5000, analysis.Logit, []float64{-1, 0.8, -0.5, 0.3}), analysis.RegressionParams{Outcome: "y", Features: simFeatures})
	if err != nil {
		t.Fatal(err)
	}
	hl := r.HosmerLemeshow
	if hl == nil || hl.DF != 8 || hl.P < 0.01 {
		t.Errorf("well-specified model: %+v", hl)
	}
	t.Logf("well specified: HL %.2f on %d df, p = %.3f", hl.Statistic, hl.DF, hl.P)

	rng := rand.New(rand.NewPCG(12, 12))
	x, y := make([]float64, 5000), make([]float64, 5000)
	for i := range x {
		x[i] = rng.NormFloat64()
		y[i] = b2f(rng.Float64() < analysis.Logit.Mean(-2+1.5*x[i]*x[i]))
	}
	r, err = analysis.Regress(table(t, analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "y", Values: y}),
		analysis.RegressionParams{Outcome: "y", Features: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if hl := r.HosmerLemeshow; hl == nil || hl.P > 1e-6 {
		t.Errorf("misspecified model not flagged: %+v", hl)
	}
	t.Logf("misspecified: HL %.1f, p = %.2g", r.HosmerLemeshow.Statistic, r.HosmerLemeshow.P)
}

func TestSeparationIsReported(t *testing.T) {
	// Complete: y = 1 exactly when x > 10.
	x, y := make([]float64, 20), make([]float64, 20)
	for i := range x {
		x[i] = float64(i + 1)
		y[i] = b2f(x[i] > 10)
	}
	_, err := analysis.Regress(table(t, analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "y", Values: y}),
		analysis.RegressionParams{Outcome: "y", Features: []string{"x"}})
	if !errors.Is(err, analysis.ErrSeparation) {
		t.Errorf("complete separation: %v", err)
	}
	// Quasi-complete: everyone exposed has the event; the unexposed vary.
	rng := rand.New(rand.NewPCG(3, 3))
	exposed, age, ev := make([]float64, 200), make([]float64, 200), make([]float64, 200)
	for i := range exposed {
		exposed[i] = b2f(i%5 == 0)
		age[i] = 40 + 30*rng.Float64()
		ev[i] = b2f(exposed[i] == 1 || rng.Float64() < 0.3)
	}
	_, err = analysis.Regress(table(t, analysis.Column{Name: "exposed", Values: exposed}, analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "ev", Values: ev}),
		analysis.RegressionParams{Outcome: "ev", Features: []string{"age", "exposed"}})
	if !errors.Is(err, analysis.ErrSeparation) || !strings.Contains(err.Error(), `"exposed"`) {
		t.Errorf("quasi-complete separation: %v", err)
	}
}

func TestSingularDesignNamesTheCulprit(t *testing.T) {
	tbl := simulate(1, 300, analysis.Logit, []float64{0, 1, 0, 0})
	x1 := mustColumn(tbl, "x1")
	twice := make([]float64, len(x1))
	for i, v := range x1 {
		twice[i] = 2*v + 1
	}
	cols := []analysis.Column{
		{Name: "x1", Values: x1}, {Name: "x1_again", Values: twice},
		{Name: "const", Values: make([]float64, len(x1))}, {Name: "y", Values: mustColumn(tbl, "y")},
	}
	for _, tc := range []struct {
		features []string
		culprit  string
	}{
		{[]string{"x1", "x1_again"}, "x1_again"},
		{[]string{"const", "x1"}, "const"},
	} {
		_, err := analysis.Regress(table(t, cols...), analysis.RegressionParams{Outcome: "y", Features: tc.features})
		if !errors.Is(err, analysis.ErrSingular) || !strings.Contains(err.Error(), tc.culprit) {
			t.Errorf("%v: %v; want ErrSingular naming %s", tc.features, err, tc.culprit)
		}
	}
}

func TestRegressionParameters(t *testing.T) {
	tbl := simulate(1, 100, analysis.Logit, []float64{0, 1, 0, 0})
	for _, tc := range []struct {
		p     analysis.RegressionParams
		param string
	}{
		{analysis.RegressionParams{Outcome: "y", Features: simFeatures, Link: "probit"}, "link"},
		{analysis.RegressionParams{Outcome: "z", Features: simFeatures}, "outcome"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"x1", "x1"}}, "features[1]"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"y"}}, "features[0]"},
		{analysis.RegressionParams{Outcome: "x1", Features: []string{"x2"}}, "outcome"}, // not 0/1
		{analysis.RegressionParams{Outcome: "y", Features: simFeatures, MaxIter: -1}, "max_iter"},
		{analysis.RegressionParams{Outcome: "y", Features: simFeatures, Tol: 2}, "tol"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"log(x2"}}, "features[0]"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"log(x1)"}}, "features[0]"}, // x1 ≤ 0 somewhere
		{analysis.RegressionParams{Outcome: "y", Features: []string{"x1*z"}}, "features[0]"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"x1*y"}}, "features[0]"},
		{analysis.RegressionParams{Outcome: "y", Features: []string{"x1:x2", "x1:x2"}}, "features[1]"},
	} {
		_, err := analysis.Regress(tbl, tc.p)
		var pe *analysis.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%+v: %v; want an error about %s", tc.p, err, tc.param)
		}
	}
}

// The saved model predicts what the fit fitted, and the whole result
// survives JSON.
func TestModelAndJSON(t *testing.T) {
	tbl := simulate(4, 400, analysis.Logit, []float64{-1, 0.8, -0.5, 0.3})
	r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: simFeatures})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model
	p, err := m.Predict([]float64{0.5, 1, -0.2})
	want := 1 / (1 + math.Exp(-(m.Intercept + 0.5*m.Coefficients[0] + m.Coefficients[1] - 0.2*m.Coefficients[2])))
	if err != nil || math.Abs(p-want) > 1e-15 {
		t.Errorf("Predict %v, %v; want %v", p, err, want)
	}
	if _, err := m.Predict([]float64{1}); err == nil {
		t.Error("Predict with too few values accepted")
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back analysis.Regression
	if err := json.Unmarshal(b, &back); err != nil || back.Coefficients[1].Estimate != r.Coefficients[1].Estimate || back.Model.Link != analysis.Logit {
		t.Errorf("JSON round trip: %v", err)
	}
	if strings.Contains(string(b), "levels") {
		t.Error("worker-internal level counts serialised")
	}
}

func mustColumn(tbl *analysis.Table, name string) []float64 {
	c, ok := tbl.Column(name)
	if !ok {
		panic("no column " + name)
	}
	return c.Values
}

// A model evaluated on fresh data from its own generating process is well
// calibrated there; on a population whose risk factors matter half as much
// its predictions are too extreme, and the calibration slope says so.
func TestEvaluateOnNewData(t *testing.T) {
	truth := []float64{-1, 0.8, -0.5, 0.3}
	r, err := analysis.Regress(simulate(31, 5000, analysis.Logit, truth), analysis.RegressionParams{Outcome: "y", Features: simFeatures})
	if err != nil {
		t.Fatal(err)
	}
	same, err := analysis.Evaluate(simulate(32, 5000, analysis.Logit, truth), analysis.EvaluateParams{Model: r.Model, Outcome: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if s := same.Calibration.Slope; math.Abs(s-1) > 0.15 || math.Abs(same.AUC-r.AUC) > 0.03 {
		t.Errorf("same population: slope %.3f, AUC %.3f (fitted %.3f)", s, same.AUC, r.AUC)
	}
	half := []float64{-1, 0.4, -0.25, 0.15}
	weaker, err := analysis.Evaluate(simulate(33, 5000, analysis.Logit, half), analysis.EvaluateParams{Model: r.Model, Outcome: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if s := weaker.Calibration.Slope; math.Abs(s-0.5) > 0.1 {
		t.Errorf("weaker population: slope %.3f, want about 0.5", s)
	}
	t.Logf("same population: AUC %.3f slope %.3f; weaker: AUC %.3f slope %.3f", same.AUC, same.Calibration.Slope, weaker.AUC, weaker.Calibration.Slope)
	if _, err := analysis.Evaluate(simulate(33, 100, analysis.Logit, half), analysis.EvaluateParams{Model: analysis.Model{Link: analysis.Identity}, Outcome: "y"}); err == nil {
		t.Error("evaluating a linear model accepted")
	}
}
