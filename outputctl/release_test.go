package outputctl_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// exact releases without noise: the threshold rules alone.
func exact() *outputctl.Releaser {
	return &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 50}}
}

// private spends epsilonMilli per release from a budget of totalMilli.
func private(epsilonMilli, totalMilli uint64, seed uint64) *outputctl.Releaser {
	return &outputctl.Releaser{
		Policy: outputctl.Policy{MinCohort: 50, EpsilonMilli: epsilonMilli},
		Budget: &outputctl.Budget{TotalMilli: totalMilli},
		Noise:  seeded(seed),
	}
}

func TestPolicyValidation(t *testing.T) {
	for _, p := range []outputctl.Policy{
		{MinCohort: 50, MinCell: 5},   // would release counts of 5–10
		{MinCohort: 8},                // cohort smaller than a cell
		{MinCohort: 50, MinCell: 100}, // cohort smaller than a cell
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// A cohort below the policy's minimum is refused — and the refusal costs
// no epsilon.
func TestBelowMinCohortIsRefusedFree(t *testing.T) {
	r := private(100, 1000, 1)
	_, err := r.ReleaseCount(analysis.CountResult{N: 49})
	if !errors.Is(err, outputctl.ErrBelowMinCohort) || r.Budget.SpentMilli != 0 {
		t.Errorf("n = 49 under min cohort 50: %v, spent %d", err, r.Budget.SpentMilli)
	}
	if _, err := exact().ReleaseCount(analysis.CountResult{N: 49}); !errors.Is(err, outputctl.ErrBelowMinCohort) {
		t.Errorf("exact: %v", err)
	}
	rel, err := exact().ReleaseCount(analysis.CountResult{N: 50})
	if err != nil || *rel.N.Count != 50 || rel.EpsilonSpentMilli != 0 {
		t.Errorf("n = 50: %+v, %v", rel, err)
	}
}

// Each release spends the policy's epsilon; once the budget cannot pay,
// the release is refused and nothing more is spent.
func TestBudgetRunsOut(t *testing.T) {
	r := private(300, 1000, 2)
	for i := range 3 {
		rel, err := r.ReleaseCount(analysis.CountResult{N: 500})
		if err != nil || rel.EpsilonSpentMilli != 300 {
			t.Fatalf("release %d: %+v, %v", i, rel, err)
		}
	}
	if r.Budget.SpentMilli != 900 || r.Budget.Remaining() != 100 {
		t.Fatalf("budget %+v", *r.Budget)
	}
	_, err := r.ReleaseCount(analysis.CountResult{N: 500})
	if !errors.Is(err, outputctl.ErrBudgetExhausted) || r.Budget.SpentMilli != 900 {
		t.Errorf("fourth release: %v, budget %+v", err, *r.Budget)
	}
}

// Noisy counts are unbiased: over many releases their mean is the true
// count, and their spread is the discrete Laplace's at ε = 0.5.
func TestNoisyCountsAreUnbiased(t *testing.T) {
	r := private(500, math.MaxUint64, 3)
	const draws, truth = 20000, 1234
	var sum, sumSq float64
	for range draws {
		rel, err := r.ReleaseCount(analysis.CountResult{N: truth})
		if err != nil {
			t.Fatal(err)
		}
		d := float64(*rel.N.Count - truth)
		sum += d
		sumSq += d * d
	}
	q := math.Exp(-0.5)
	sd := math.Sqrt(2 * q / ((1 - q) * (1 - q)))
	if bias := sum / draws; math.Abs(bias) > 5*sd/math.Sqrt(draws) {
		t.Errorf("mean error %.3f (noise SD %.2f)", bias, sd)
	}
	if got := math.Sqrt(sumSq / draws); math.Abs(got/sd-1) > 0.05 {
		t.Errorf("noise SD %.3f, want %.3f", got, sd)
	}
}

// A cross-tabulation of sex by smoking status in a cohort where few women
// smoke: the small cell and everything that would give it away are
// withheld; the rest is released exactly.
func TestCrossTabSuppression(t *testing.T) {
	sex := make([]float64, 200)
	smoker := make([]float64, 200)
	for i := range sex {
		sex[i] = float64(i % 2)
		smoker[i] = b2f((i%2 == 0 && i < 60) || (i%2 == 1 && i < 14)) // 30 men, 7 women
	}
	tbl, _ := analysis.NewTable(analysis.Column{Name: "sex", Values: sex}, analysis.Column{Name: "smoker", Values: smoker})
	ct, err := analysis.CrossTabulate(tbl, analysis.CrossTabParams{
		Rows: analysis.Dimension{Column: "sex", Levels: []float64{0, 1}},
		Cols: &analysis.Dimension{Column: "smoker", Levels: []float64{0, 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := exact().ReleaseCrossTab(ct)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		for j := range 2 {
			if !rel.Cells[i][j].Suppressed || rel.Cells[i][j].Count != nil {
				t.Errorf("cell (%d,%d) released: %+v", i, j, rel.Cells[i][j])
			}
		}
	}
	if *rel.Total.Count != 200 || *rel.RowTotals[1].Count != 100 || *rel.ColTotals[1].Count != 37 {
		t.Errorf("margins: %+v %+v %+v", rel.RowTotals, rel.ColTotals, rel.Total)
	}
	noSmallNumbers(t, rel)
}

// With noise the released table still adds up and holds no small count,
// and the epsilon is spent once for the whole table.
func TestNoisyCrossTab(t *testing.T) {
	ct := analysis.CrossTab{RowColumn: "a", RowLabels: []string{"0", "1", "2"}, ColColumn: "b", ColLabels: []string{"0", "1"},
		Counts: [][]int64{{120, 8}, {64, 33}, {0, 250}}}
	ct.RowTotals, ct.ColTotals, ct.Total = analysis.Margins(ct.Counts)
	for seed := range uint64(50) {
		r := private(1000, 1000, seed)
		rel, err := r.ReleaseCrossTab(ct)
		if err != nil {
			t.Fatal(err)
		}
		if rel.EpsilonSpentMilli != 1000 || r.Budget.SpentMilli != 1000 || !rel.Noisy {
			t.Fatalf("spent %d", rel.EpsilonSpentMilli)
		}
		noSmallNumbers(t, rel)
		if rel.Total.Count != nil {
			var sum int64
			for _, c := range rel.RowTotals {
				if c.Count != nil {
					sum += *c.Count
				}
			}
			allRows := true
			for _, c := range rel.RowTotals {
				allRows = allRows && c.Count != nil
			}
			if allRows && sum != *rel.Total.Count {
				t.Errorf("row totals add to %d, total %d", sum, *rel.Total.Count)
			}
		}
	}
}

// noSmallNumbers checks a released table: no count in 1–10 anywhere, and
// the withheld pattern passes the derivability checker on the released
// values.
func noSmallNumbers(t *testing.T, rel outputctl.CrossTabRelease) {
	t.Helper()
	all := []outputctl.Cell{rel.Total}
	for _, row := range rel.Cells {
		all = append(all, row...)
	}
	all = append(append(all, rel.RowTotals...), rel.ColTotals...)
	for _, c := range all {
		if c.Count != nil && *c.Count >= 1 && *c.Count <= 10 {
			t.Errorf("small count %d released", *c.Count)
		}
		if c.Count == nil && !c.Suppressed {
			t.Error("null count not marked suppressed")
		}
	}
}

// Descriptive statistics without noise: quantiles too close to the
// extremes for the cohort size are withheld, and a variable's N is withheld
// when the number of missing values it implies is small.
func TestExactDescription(t *testing.T) {
	n := 100
	age, chol := make([]float64, n), make([]float64, n)
	valid := make([]bool, n)
	for i := range n {
		age[i] = 40 + float64(i%30)
		chol[i] = 150 + float64(i)
		valid[i] = i >= 4 // 4 missing cholesterol values
	}
	tbl, _ := analysis.NewTable(analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "chol", Values: chol, Valid: valid})
	d, err := analysis.Describe(tbl, analysis.DescribeParams{Variables: []analysis.Variable{{Column: "age"}, {Column: "chol"}}})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := exact().ReleaseDescription(d)
	if err != nil {
		t.Fatal(err)
	}
	a := rel.Variables[0]
	if *a.N.Count != 100 || *a.Mean.Value != d.Variables[0].Mean || *a.SD.Value != d.Variables[0].SD {
		t.Errorf("age: %+v", a)
	}
	// With n = 100, the 5% and 95% quantiles have only 5 values beyond them.
	for _, q := range a.Quantiles {
		if wantHeld := q.P == 0.05 || q.P == 0.95; q.Suppressed != wantHeld {
			t.Errorf("age quantile %.2f: suppressed %v", q.P, q.Suppressed)
		}
	}
	if c := rel.Variables[1]; !c.N.Suppressed || c.Mean.Value == nil {
		t.Errorf("chol N released though 100 − N = 4 missing: %+v", c.N)
	}
}

// Differentially private summaries: the released mean is unbiased for the
// clamped mean, the SD and quantiles land near the truth for a large
// cohort, and every variable must have bounds.
func TestPrivateDescription(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 5000
	sbp := make([]float64, n)
	for i := range sbp {
		sbp[i] = 130 + 15*rng.NormFloat64()
	}
	tbl, _ := analysis.NewTable(analysis.Column{Name: "sbp", Values: sbp})
	d, err := analysis.Describe(tbl, analysis.DescribeParams{Variables: []analysis.Variable{{Column: "sbp", Bounds: &analysis.Bounds{Lower: 80, Upper: 200}}}})
	if err != nil {
		t.Fatal(err)
	}
	truth := d.Variables[0]
	const draws = 300
	var meanSum, worstQ float64
	for seed := range uint64(draws) {
		r := private(900, 900, seed) // ε = 0.9 split 9 ways: 0.1 per statistic
		rel, err := r.ReleaseDescription(d)
		if err != nil {
			t.Fatal(err)
		}
		if rel.EpsilonSpentMilli != 900 {
			t.Fatalf("spent %d", rel.EpsilonSpentMilli)
		}
		v := rel.Variables[0]
		meanSum += *v.Mean.Value
		if math.Abs(*v.SD.Value-truth.SD) > 1.5 {
			t.Errorf("seed %d: SD %.2f, true %.2f", seed, *v.SD.Value, truth.SD)
		}
		for k, q := range v.Quantiles {
			worstQ = max(worstQ, math.Abs(*q.Value-truth.Quantiles[k].Value))
			if math.Abs(*q.Value-truth.Quantiles[k].Value) > 6 {
				t.Errorf("seed %d: quantile %.2f = %.2f, true %.2f", seed, q.P, *q.Value, truth.Quantiles[k].Value)
			}
		}
	}
	t.Logf("largest quantile error over %d releases: %.2f mmHg (SD of the data 15)", draws, worstQ)
	// The noisy sum's SD is √2·500/0.1 grid steps of 0.12 mmHg ≈ 850 mmHg,
	// over n = 5000: about 0.17 mmHg per release, 0.01 over 300.
	if got := meanSum / draws; math.Abs(got-truth.Mean) > 0.05 {
		t.Errorf("mean of %d private means %.3f, true mean %.3f", draws, got, truth.Mean)
	}
	d.Variables[0].Bounded = nil
	if _, err := private(900, 900, 1).ReleaseDescription(d); !errors.Is(err, outputctl.ErrNeedsBounds) {
		t.Errorf("no bounds: %v", err)
	}
}

func TestRegressionReleaseRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	const n = 400
	age, drug, rare, ev := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		age[i] = 40 + 30*rng.Float64()
		drug[i] = b2f(rng.Float64() < 0.5)
		rare[i] = b2f(i < 6) // six patients on a rare treatment
		ev[i] = b2f(rng.Float64() < 1/(1+math.Exp(-(-3+0.04*age[i]-0.5*drug[i]))))
	}
	tbl, _ := analysis.NewTable(analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "drug", Values: drug},
		analysis.Column{Name: "rare", Values: rare}, analysis.Column{Name: "ev", Values: ev})
	fit := func(features ...string) analysis.Regression {
		r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "ev", Features: features})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reg := fit("age", "drug")
	rel, err := exact().ReleaseRegression(reg)
	if err != nil || rel.Regression.N != n || len(rel.Regression.Coefficients) != 3 {
		t.Fatalf("release: %v", err)
	}
	b, _ := json.Marshal(rel)
	if !strings.Contains(string(b), `"odds_ratio"`) {
		t.Errorf("JSON: %s", b)
	}
	if _, err := exact().ReleaseRegression(fit("age", "rare")); !errors.Is(err, outputctl.ErrSmallGroup) {
		t.Errorf("coefficient for a group of 6: %v", err)
	}
	few := reg
	few.Events = 10
	if _, err := exact().ReleaseRegression(few); !errors.Is(err, outputctl.ErrTooFewEvents) {
		t.Errorf("10 events: %v", err)
	}
	few = reg
	few.Events = few.N - 9
	if _, err := exact().ReleaseRegression(few); !errors.Is(err, outputctl.ErrTooFewEvents) {
		t.Errorf("9 non-events: %v", err)
	}
	few = reg
	few.N = 49
	if _, err := exact().ReleaseRegression(few); !errors.Is(err, outputctl.ErrBelowMinCohort) {
		t.Errorf("n = 49: %v", err)
	}
	dp := private(100, 1000, 1)
	if _, err := dp.ReleaseRegression(reg); !errors.Is(err, outputctl.ErrNoPrivateRegression) {
		t.Errorf("private policy without exact_regression: %v", err)
	}
	dp.Policy.ExactRegression = true
	if rel, err := dp.ReleaseRegression(reg); err != nil || rel.EpsilonSpentMilli != 0 || dp.Budget.SpentMilli != 0 {
		t.Errorf("exact regression under a private policy: %v", err)
	}

	evaluation, err := analysis.Evaluate(tbl, analysis.EvaluateParams{Model: reg.Model, Outcome: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exact().ReleaseEvaluation(evaluation); err != nil {
		t.Errorf("evaluation: %v", err)
	}
	evaluation.Events = 3
	if _, err := exact().ReleaseEvaluation(evaluation); !errors.Is(err, outputctl.ErrTooFewEvents) {
		t.Errorf("evaluation with 3 events: %v", err)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
