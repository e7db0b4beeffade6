package analysis_test

import (
	"math"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// beetles is Bliss's (1935) beetle mortality data as tabulated by Dobson &
// Barnett, An Introduction to Generalized Linear Models (3rd ed., 2008),
// Table 7.2: dose (log₁₀ CS₂ mg/l), beetles exposed, beetles killed. It is
// expanded here to one row per beetle; the maximum-likelihood fit of the
// individual rows is the grouped binomial fit.
func beetles(t *testing.T) *analysis.Table {
	t.Helper()
	doses := []float64{1.6907, 1.7242, 1.7552, 1.7842, 1.8113, 1.8369, 1.8610, 1.8839}
	exposed := []int{59, 60, 62, 56, 63, 59, 62, 60}
	killed := []int{6, 13, 18, 28, 52, 53, 61, 60}
	var dose, dead []float64
	for g := range doses {
		for i := range exposed[g] {
			dose = append(dose, doses[g])
			dead = append(dead, b2f(i < killed[g]))
		}
	}
	return table(t, analysis.Column{Name: "dose", Values: dose}, analysis.Column{Name: "dead", Values: dead})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func table(t testing.TB, cols ...analysis.Column) *analysis.Table {
	t.Helper()
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// checkCoef compares an estimate and its standard error with published
// values given to the published number of decimals.
func checkCoef(t *testing.T, c analysis.Coefficient, est, se float64, decimals int) {
	t.Helper()
	tol := 0.5 * math.Pow(10, -float64(decimals))
	if math.Abs(c.Estimate-est) > tol || math.Abs(c.SE-se) > tol {
		t.Errorf("%s: estimate %.6f (SE %.6f), published %.*f (SE %.*f)", c.Name, c.Estimate, c.SE, decimals, est, decimals, se)
	}
}

// Dobson & Barnett, Table 7.5: the logistic model gives b₁ = −60.72
// (SE 5.18), b₂ = 34.27 (SE 2.91); the extreme value (complementary
// log-log) model b₁ = −39.57 (SE 3.24), b₂ = 22.04 (SE 1.80).
func TestBeetleMortalityPublishedFits(t *testing.T) {
	tbl := beetles(t)
	for _, tc := range []struct {
		link             analysis.Link
		b0, se0, b1, se1 float64
		ratioName        string
	}{
		{analysis.Logit, -60.72, 5.18, 34.27, 2.91, "odds_ratio"},
		{analysis.CLogLog, -39.57, 3.24, 22.04, 1.80, "hazard_ratio"},
	} {
		t.Run(string(tc.link), func(t *testing.T) {
			r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "dead", Features: []string{"dose"}, Link: tc.link})
			if err != nil {
				t.Fatal(err)
			}
			checkCoef(t, r.Coefficients[0], tc.b0, tc.se0, 2)
			checkCoef(t, r.Coefficients[1], tc.b1, tc.se1, 2)
			if r.N != 481 || r.Events != 291 {
				t.Errorf("n = %d, events = %d; want 481 and 291", r.N, r.Events)
			}
			if r.RatioName != tc.ratioName || r.Coefficients[1].Ratio == nil ||
				math.Abs(r.Coefficients[1].Ratio.Estimate-math.Exp(r.Coefficients[1].Estimate)) > 1e-9*r.Coefficients[1].Ratio.Estimate {
				t.Errorf("ratio %s %+v", r.RatioName, r.Coefficients[1].Ratio)
			}
			t.Logf("%s: %d iterations, AUC %.4f, calibration %+v, HL %+v", tc.link, r.Iterations, r.AUC, *r.Calibration, r.HosmerLemeshow)
		})
	}
}

// The 23 space-shuttle launches before Challenger: launch temperature (°F)
// and whether any O-ring showed thermal distress (Dalal, Fowlkes & Hoadley,
// JASA 1989). The logistic fit is logit π = 15.0429 (SE 7.3786) − 0.2322
// (SE 0.1082)·temperature (e.g. Agresti, An Introduction to Categorical
// Data Analysis, §5.x exercises; R: glm(damage ~ temp, binomial)).
func TestChallengerPublishedFit(t *testing.T) {
	temp := []float64{53, 57, 58, 63, 66, 67, 67, 67, 68, 69, 70, 70, 70, 70, 72, 73, 75, 75, 76, 76, 78, 79, 81}
	damage := []float64{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}
	tbl := table(t, analysis.Column{Name: "temp", Values: temp}, analysis.Column{Name: "damage", Values: damage})
	r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "damage", Features: []string{"temp"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCoef(t, r.Coefficients[0], 15.0429, 7.3786, 4)
	checkCoef(t, r.Coefficients[1], -0.2322, 0.1082, 4)
	// Wald z = −2.145, p = 0.0320 for temperature.
	if c := r.Coefficients[1]; math.Abs(c.Stat+2.145) > 5e-4 || math.Abs(c.P-0.0320) > 5e-5 {
		t.Errorf("temperature: z %.4f p %.5f; want −2.145 and 0.0320", c.Stat, c.P)
	}
	// Apparent calibration of a logit model on its own data is perfect.
	if math.Abs(r.Calibration.Slope-1) > 1e-8 || math.Abs(r.Calibration.Intercept) > 1e-8 {
		t.Errorf("calibration %+v, want slope 1 intercept 0", *r.Calibration)
	}
	t.Logf("AUC %.4f HL %+v", r.AUC, r.HosmerLemeshow)
}
