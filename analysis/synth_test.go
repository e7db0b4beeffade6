package analysis_test

import (
	"math"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/synth"
)

// The synthetic cohorts of `medchain synth` draw each patient's 10-year
// CVD event from the Framingham general CVD model (D'Agostino 2008), whose
// risk 1 − S₀^exp(Σβx − mean) is exactly a complementary log-log model in
// log(age), log(total cholesterol), log(HDL), log(SBP) (with its own
// coefficient when treated), smoking and diabetes. A cloglog regression on
// the men of such a cohort, with those derived features, recovers the
// published men's coefficients and their hazard ratios.
func TestCLogLogRecoversFraminghamFromSynth(t *testing.T) {
	people, err := synth.Generate(synth.Config{N: 40000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string, f func(p *synth.Person) float64) analysis.Column {
		v := make([]float64, len(people))
		for i := range people {
			v[i] = f(&people[i])
		}
		return analysis.Column{Name: name, Values: v}
	}
	tbl := table(t,
		col("male", func(p *synth.Person) float64 { return b2f(p.Sex == "male") }),
		col("age", func(p *synth.Person) float64 { return float64(p.Age) }),
		col("tc", func(p *synth.Person) float64 { return p.TotalChol }),
		col("hdl", func(p *synth.Person) float64 { return p.HDL }),
		col("sbp", func(p *synth.Person) float64 { return p.SBP }),
		col("treated", func(p *synth.Person) float64 { return b2f(p.BPTreated) }),
		col("smoker", func(p *synth.Person) float64 { return b2f(p.Smoking == synth.SmokingCurrent) }),
		col("diabetes", func(p *synth.Person) float64 { return b2f(p.Diabetes) }),
		col("cvd_10y", func(p *synth.Person) float64 { return b2f(p.CVD10y) }),
	)
	one := 1.0
	r, err := analysis.Regress(tbl, analysis.RegressionParams{
		Outcome:  "cvd_10y",
		Features: []string{"log(age)", "log(tc)", "log(hdl)", "log(sbp)", "smoker", "diabetes", "log(sbp):treated"},
		Link:     analysis.CLogLog,
		Filter:   analysis.Filter{{Column: "male", Op: analysis.OpEq, Value: &one}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Men: ln age 3.06117, ln TC 1.12370, ln HDL −0.93263, ln SBP 1.93303
	// untreated and 1.99881 treated (so the interaction is their
	// difference), smoker 0.65451, diabetes 0.57367; S₀(10) = 0.88936 at the
	// mean Σβx = 23.9802. (The interaction comes last, as R orders terms:
	// by degree.)
	truth := []float64{math.Log(-math.Log(0.88936)) - 23.9802, 3.06117, 1.12370, -0.93263, 1.93303, 0.65451, 0.57367, 1.99881 - 1.93303}
	for j, c := range r.Coefficients {
		z := (c.Estimate - truth[j]) / c.SE
		t.Logf("%-17s Framingham %8.4f  fitted %8.4f (SE %.4f)", c.Name, truth[j], c.Estimate, c.SE)
		if math.Abs(z) > 4 {
			t.Errorf("%s: fitted %.4f is %.1f SE from Framingham's %.4f", c.Name, c.Estimate, z, truth[j])
		}
	}
	t.Logf("men: n %d, events %d, AUC %.3f, calibration slope %.3f", r.N, r.Events, r.AUC, r.Calibration.Slope)

	// The saved model predicts from raw values, as the Framingham score does.
	x := map[string]float64{"age": 61, "tc": 180, "hdl": 47, "sbp": 124, "treated": 0, "smoker": 1, "diabetes": 0}
	got, err := r.Model.PredictValues(x)
	if err != nil {
		t.Fatal(err)
	}
	want := synth.Risk10y(synth.Factors{Male: true, Age: 61, TotalChol: 180, HDL: 47, SBP: 124, Smoker: true})
	t.Logf("61-year-old male smoker: fitted 10-year risk %.3f, Framingham %.3f", got, want)
	if math.Abs(got-want) > 0.03 {
		t.Errorf("predicted risk %.3f, Framingham %.3f", got, want)
	}
}
