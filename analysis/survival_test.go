package analysis_test

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// The reference values in testdata/survival were computed once by R 4.2
// with survival 3.5 (survival.R) from cohort.csv; R is not needed to run
// these tests.

const rTol = 1e-6

var coxFeatures = []string{"age", "sbp", "total_chol", "hdl", "smoker", "diabetes", "male"}

func survivalTable(t testing.TB) *analysis.Table {
	return readSurvivalCSV(t, filepath.Join("testdata", "survival", "cohort.csv"))
}

func survivalData(t testing.TB, p analysis.SurvivalParams) *analysis.SurvivalData {
	t.Helper()
	if p.Time == "" {
		p.Time, p.Event = "time", "event"
	}
	if p.Grid == nil {
		p.Grid = yearGrid
	}
	s, err := analysis.NewSurvivalData(survivalTable(t), p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yearGrid is survival.R's grid: whole years 1 to 15.
var yearGrid = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func compareCox(t *testing.T, fit *analysis.CoxFit, ref string) {
	t.Helper()
	coefs := readReference(t, ref+".ref.csv")
	if len(coefs) != len(fit.Coefficients) {
		t.Fatalf("%d coefficients, R has %d", len(fit.Coefficients), len(coefs))
	}
	for j, r := range coefs {
		c := fit.Coefficients[j]
		if c.Name != r["term"] {
			t.Errorf("coefficient %d is %q, R's %q", j, c.Name, r["term"])
		}
		closeRel(t, c.Name+" coef", c.Estimate, num(t, r, "coef"), rTol)
		closeRel(t, c.Name+" se", c.SE, num(t, r, "se"), rTol)
		closeRel(t, c.Name+" z", c.Stat, num(t, r, "z"), rTol)
		closeRel(t, c.Name+" p", c.P, num(t, r, "p"), rTol)
		closeRel(t, c.Name+" HR lower", c.Ratio.Lower, num(t, r, "lower"), rTol)
		closeRel(t, c.Name+" HR upper", c.Ratio.Upper, num(t, r, "upper"), rTol)
	}
	f := readReference(t, ref+"_fit.ref.csv")[0]
	if float64(fit.N) != num(t, f, "n") || float64(fit.Events) != num(t, f, "events") {
		t.Errorf("n %d events %d, R %s %s", fit.N, fit.Events, f["n"], f["events"])
	}
	closeRel(t, "loglik at zero", fit.LogLikNull, num(t, f, "loglik_null"), rTol)
	closeRel(t, "loglik", fit.LogLik, num(t, f, "loglik"), rTol)
	closeRel(t, "likelihood-ratio test", fit.LR.Chisq, num(t, f, "lr"), rTol)
	closeRel(t, "Wald test", fit.Wald.Chisq, num(t, f, "wald"), rTol)
	closeRel(t, "score test", fit.Score.Chisq, num(t, f, "score"), rTol)
	if fit.Concordance != nil { // a pooled fit has none
		closeRel(t, "concordance", *fit.Concordance, num(t, f, "concordance"), rTol)
	}
}

// A Cox model on exact times matches R's coxph with Efron's and with
// Breslow's ties: coefficients, SEs, z, p, hazard-ratio intervals, partial
// log-likelihoods, the three global tests and the concordance.
func TestCoxMatchesR(t *testing.T) {
	s := survivalData(t, analysis.SurvivalParams{Features: coxFeatures})
	for _, ties := range []string{analysis.TiesEfron, analysis.TiesBreslow} {
		t.Run(ties, func(t *testing.T) {
			fit, err := analysis.FitCox(s, ties, analysis.SolverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if fit.Concordance == nil {
				t.Fatal("no concordance")
			}
			compareCox(t, fit, "cox_"+ties)
		})
	}
}

// On times coarsened to the grid (every event in a year tied at its end)
// the fit matches R's coxph on the same coarsened times: the "grid-central"
// fit a federated study reproduces.
func TestCoxOnGridMatchesR(t *testing.T) {
	s := survivalData(t, analysis.SurvivalParams{Features: coxFeatures}).Coarsened(yearGrid)
	for _, ties := range []string{analysis.TiesEfron, analysis.TiesBreslow} {
		t.Run(ties, func(t *testing.T) {
			fit, err := analysis.FitCox(s, ties, analysis.SolverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			compareCox(t, fit, "cox_grid_"+ties)
		})
	}
}

// Kaplan–Meier by sex matches R's survfit step by step: numbers at risk,
// events, censorings, survival, Greenwood's standard error and the log
// confidence interval.
func TestKaplanMeierMatchesR(t *testing.T) {
	s := survivalData(t, analysis.SurvivalParams{Group: &analysis.Factor{Column: "male", Levels: []string{"0", "1"}}})
	curves := analysis.KaplanMeier(s)
	ref := readReference(t, "km_male.ref.csv")
	i := 0
	for _, c := range curves {
		for _, st := range c.Steps {
			if i >= len(ref) {
				t.Fatalf("more steps than R's %d", len(ref))
			}
			r := ref[i]
			i++
			if r["group"] != c.Group {
				t.Fatalf("step %d: group %s, R %s", i, c.Group, r["group"])
			}
			where := "male=" + c.Group + " t=" + strconv.FormatFloat(st.Time, 'g', -1, 64)
			closeRel(t, where+" time", st.Time, num(t, r, "time"), 1e-12)
			if float64(st.NRisk) != num(t, r, "n_risk") || float64(st.NEvent) != num(t, r, "n_event") || float64(st.NCensor) != num(t, r, "n_censor") {
				t.Errorf("%s: at risk %d events %d censored %d, R %s %s %s", where, st.NRisk, st.NEvent, st.NCensor, r["n_risk"], r["n_event"], r["n_censor"])
			}
			closeRel(t, where+" surv", st.Surv, num(t, r, "surv"), rTol)
			closeRel(t, where+" std.err", st.StdErr, num(t, r, "std_err"), rTol)
			closeRel(t, where+" lower", st.Lower, num(t, r, "lower"), rTol)
			closeRel(t, where+" upper", st.Upper, num(t, r, "upper"), rTol)
		}
	}
	if i != len(ref) {
		t.Errorf("%d steps, R %d", i, len(ref))
	}
}

// The Kaplan–Meier curve of the coarsened times, read at the grid points,
// is R's summary(survfit(...), times = grid) on the same coarsened times.
func TestKaplanMeierOnGridMatchesR(t *testing.T) {
	s := survivalData(t, analysis.SurvivalParams{}).Coarsened(yearGrid)
	c := analysis.KaplanMeier(s)[0]
	ref := readReference(t, "km_grid.ref.csv")
	if len(c.Steps) != len(ref) {
		t.Fatalf("%d steps, R %d", len(c.Steps), len(ref))
	}
	for k, st := range c.Steps {
		r := ref[k]
		if st.Time != num(t, r, "time") || float64(st.NRisk) != num(t, r, "n_risk") || float64(st.NEvent) != num(t, r, "n_event") {
			t.Errorf("grid %v: %+v, R %v", st.Time, st, r)
		}
		closeRel(t, "surv", st.Surv, num(t, r, "surv"), rTol)
		closeRel(t, "std.err", st.StdErr, num(t, r, "std_err"), rTol)
		closeRel(t, "lower", st.Lower, num(t, r, "lower"), rTol)
		closeRel(t, "upper", st.Upper, num(t, r, "upper"), rTol)
	}
}

// The log-rank test matches R's survdiff: observed and expected events per
// group, chi-squared and p.
func TestLogRankMatchesR(t *testing.T) {
	for _, col := range []string{"male", "smoker"} {
		t.Run(col, func(t *testing.T) {
			s := survivalData(t, analysis.SurvivalParams{Group: &analysis.Factor{Column: col, Levels: []string{"0", "1"}}})
			lr, err := analysis.LogRankTest(s)
			if err != nil {
				t.Fatal(err)
			}
			ref := readReference(t, "logrank_"+col+".ref.csv")
			for g, r := range ref {
				if lr.Groups[g] != r["group"] || float64(lr.N[g]) != num(t, r, "n") || float64(lr.Observed[g]) != num(t, r, "observed") {
					t.Errorf("group %s: n %d observed %d, R %v", lr.Groups[g], lr.N[g], lr.Observed[g], r)
				}
				closeRel(t, "expected", lr.Expected[g], num(t, r, "expected"), rTol)
			}
			closeRel(t, "chisq", lr.Chisq, num(t, ref[0], "chisq"), rTol)
			closeRel(t, "p", lr.P, num(t, ref[0], "p"), rTol)
			if lr.DF != 1 {
				t.Errorf("df %d", lr.DF)
			}
		})
	}
}

// On a cohort of 40 000 drawn from synth's Weibull proportional-hazards
// model, the Cox model recovers the true log hazard ratios (the baseline
// hazard's shape does not matter to it).
func TestCoxRecoversSynthHazard(t *testing.T) {
	people := survivalCohort(t, 40000, 5)
	cols := make([]analysis.Column, len(survivalColumns))
	for j, name := range survivalColumns {
		cols[j] = analysis.Column{Name: name, Values: make([]float64, len(people))}
	}
	for i := range people {
		for j, v := range survivalRow(&people[i]) {
			cols[j].Values[i] = v
		}
	}
	tbl := table(t, cols...)
	s, err := analysis.NewSurvivalData(tbl, analysis.SurvivalParams{Time: "time", Event: "event", Grid: yearGrid, Features: coxFeatures})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := analysis.FitCox(s, analysis.TiesEfron, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	truth := synthHazardTruth()
	for _, c := range fit.Coefficients {
		z := (c.Estimate - truth[c.Name]) / c.SE
		t.Logf("%-10s true %8.4f fitted %8.4f (SE %.4f)", c.Name, truth[c.Name], c.Estimate, c.SE)
		if math.Abs(z) > 4 {
			t.Errorf("%s: fitted %.4f is %.1f SE from the truth %.4f", c.Name, c.Estimate, z, truth[c.Name])
		}
	}
	t.Logf("n %d, events %d, concordance %.3f", fit.N, fit.Events, *fit.Concordance)
}
