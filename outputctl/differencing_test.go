package outputctl_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// differencingCohort is 120 patients aged 50–79 and one more, the target,
// aged exactly 49. Asking about "age ≥ 50" and then "age ≥ 49" gives two
// cohorts that differ by the target alone.
func differencingCohort(targetDiabetic bool, targetChol float64) *analysis.Table {
	rng := rand.New(rand.NewPCG(49, 49))
	const n = 121
	age, diabetic, chol := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n - 1 {
		age[i] = 50 + float64(rng.IntN(30))
		diabetic[i] = b2f(rng.Float64() < 0.25)
		chol[i] = 160 + 60*rng.Float64()
	}
	age[n-1], diabetic[n-1], chol[n-1] = 49, b2f(targetDiabetic), targetChol
	tbl, err := analysis.NewTable(analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "diabetic", Values: diabetic}, analysis.Column{Name: "chol", Values: chol})
	if err != nil {
		panic(err)
	}
	return tbl
}

func olderThan(a float64) analysis.Filter {
	return analysis.Filter{{Column: "age", Op: analysis.OpGe, Value: &a}}
}

// attack tabulates diabetes and asks for the mean cholesterol in both
// cohorts and differences them: the target is diabetic if the diabetic
// counts differ by at least one, and has cholesterol n_B·mean_B − n_A·mean_A.
func attack(t *testing.T, r *outputctl.Releaser, tbl *analysis.Table) (diabetic bool, chol float64) {
	t.Helper()
	diabetics := func(f analysis.Filter) int64 {
		ct, err := analysis.CrossTabulate(tbl, analysis.CrossTabParams{Filter: f, Rows: analysis.Dimension{Column: "diabetic", Levels: []float64{0, 1}}})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := r.ReleaseCrossTab(ct)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Cells[1][0].Count == nil {
			return 0
		}
		return *rel.Cells[1][0].Count
	}
	diabetic = diabetics(olderThan(49))-diabetics(olderThan(50)) >= 1

	mean := func(f analysis.Filter) (n, mean float64) {
		d, err := analysis.Describe(tbl, analysis.DescribeParams{Filter: f, Variables: []analysis.Variable{
			{Column: "chol", Bounds: &analysis.Bounds{Lower: 100, Upper: 400}}}})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := r.ReleaseDescription(d)
		if err != nil {
			t.Fatal(err)
		}
		// The attacker knows the cohort sizes exactly (the worst case).
		return float64(d.N), *rel.Variables[0].Mean.Value
	}
	nB, mB := mean(olderThan(49))
	nA, mA := mean(olderThan(50))
	return diabetic, nB*mB - nA*mA
}

// Two cohorts that differ by one patient. Under the threshold rules alone
// every number is released exactly — both cohorts are far above the
// minimum — and differencing reveals the patient's diabetes status and
// cholesterol to the last digit: that is why the ledger insists on a
// positive epsilon. With noise (ε = 1 per release) the same attack is no
// better than a coin flip on diabetes, within the bound e^ε/(1+e^ε) that
// differential privacy guarantees for any test, and its cholesterol
// estimate is lost in noise many times the plausible range.
func TestDifferencingOnePatient(t *testing.T) {
	for _, diabetic := range []bool{false, true} {
		gotDiabetic, gotChol := attack(t, exact(), differencingCohort(diabetic, 287))
		if gotDiabetic != diabetic || math.Abs(gotChol-287) > 1e-9 {
			t.Errorf("exact release: attack recovered diabetic=%v chol=%.6f; expected it to succeed", gotDiabetic, gotChol)
		}
	}

	const trials = 1500
	r := &outputctl.Releaser{
		Policy: outputctl.Policy{MinCohort: 50, EpsilonMilli: 1000},
		Budget: &outputctl.Budget{TotalMilli: math.MaxUint64},
		Noise:  seeded(2024),
	}
	right, close := 0, 0
	var sqErr float64
	for i := range trials {
		diabetic := i%2 == 0
		gotDiabetic, gotChol := attack(t, r, differencingCohort(diabetic, 287))
		if gotDiabetic == diabetic {
			right++
		}
		if math.Abs(gotChol-287) < 10 {
			close++
		}
		sqErr += (gotChol - 287) * (gotChol - 287)
	}
	acc := float64(right) / trials
	// The two count releases each spend ε = 1, but only the second cohort
	// contains the target: the bound for the status is e¹/(1+e¹) ≈ 0.731.
	bound := math.E / (1 + math.E)
	t.Logf("private release: attacker right about diabetes %.1f%% of the time (bound %.1f%%); cholesterol within 10 mg/dL in %d of %d trials, RMS error %.0f mg/dL",
		100*acc, 100*bound, close, trials, math.Sqrt(sqErr/trials))
	if acc > bound+3*math.Sqrt(bound*(1-bound)/trials) {
		t.Errorf("attacker accuracy %.3f exceeds the differential privacy bound %.3f", acc, bound)
	}
	if float64(close)/trials > 0.05 || math.Sqrt(sqErr/trials) < 300 {
		t.Errorf("cholesterol recovered too well: %d/%d within 10 mg/dL", close, trials)
	}
}
