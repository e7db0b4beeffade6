package synth

import "math"

// Factors are the inputs of the Framingham general cardiovascular disease
// 10-year risk model (D'Agostino et al., Circulation 2008;117:743–753).
type Factors struct {
	Male      bool
	Age       float64 // years; the model was fitted on ages 30–74
	TotalChol float64 // mg/dL
	HDL       float64 // mg/dL
	SBP       float64 // mm[Hg]
	Treated   bool    // on antihypertensive treatment
	Smoker    bool    // current smoker
	Diabetes  bool
}

// coefficients of one sex's model: β for ln age, ln total cholesterol, ln
// HDL, ln SBP (untreated / treated), smoking and diabetes; the mean of Σβx
// in the derivation cohort; and baseline 10-year survival S0(10).
type coefficients struct {
	lnAge, lnTC, lnHDL, lnSBPUntreated, lnSBPTreated, smoker, diabetes, mean, s0 float64
}

var (
	men   = coefficients{3.06117, 1.12370, -0.93263, 1.93303, 1.99881, 0.65451, 0.57367, 23.9802, 0.88936}
	women = coefficients{2.32888, 1.20904, -0.70833, 2.76157, 2.82263, 0.52873, 0.69154, 26.1931, 0.95012}
)

// Risk10y is the probability of a first cardiovascular event within 10
// years: 1 − S0^exp(Σβx − mean). Outside the fitted age range it
// extrapolates; the synthetic world takes that as its truth.
func Risk10y(f Factors) float64 {
	c := women
	if f.Male {
		c = men
	}
	bSBP := c.lnSBPUntreated
	if f.Treated {
		bSBP = c.lnSBPTreated
	}
	sum := c.lnAge*math.Log(f.Age) + c.lnTC*math.Log(f.TotalChol) + c.lnHDL*math.Log(f.HDL) + bSBP*math.Log(f.SBP)
	if f.Smoker {
		sum += c.smoker
	}
	if f.Diabetes {
		sum += c.diabetes
	}
	return 1 - math.Pow(c.s0, math.Exp(sum-c.mean))
}
