package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Hazard is the proportional-hazards model CVD event times are drawn
// from, so that survival methods can be tested against known
// coefficients: a Weibull hazard h(t | x) = Shape·Scale·t^(Shape−1)·exp(β'x)
// over the risk factors of LogisticFactorNames (raw units, as in
// Logistic), with right censoring by loss to follow-up (a constant hazard
// Dropout per year) and by the end of follow-up (FollowUp years). Times
// are rounded up to Resolution years, as a registry records them, which
// makes ties.
type Hazard struct {
	Shape        float64            `json:"shape"`
	Scale        float64            `json:"scale"`
	Coefficients map[string]float64 `json:"coefficients"`
	FollowUp     float64            `json:"follow_up"`
	Dropout      float64            `json:"dropout"`
	Resolution   float64            `json:"resolution"`
}

// DefaultHazard is a CVD-like model: hazard ratios of about 1.8 per
// decade of age, 1.13 per 10 mm[Hg] of systolic pressure, 1.04 per 10
// mg/dL of total cholesterol, 0.82 per 10 mg/dL of HDL, 1.7 for current
// smoking, 1.8 for diabetes and 1.5 for men; a slowly rising hazard
// (shape 1.2), 15 years of follow-up, 3% lost to follow-up a year, times
// in tenths of a year. About a fifth of the synthetic cohort has an event
// within follow-up.
func DefaultHazard() Hazard {
	return Hazard{
		Shape: 1.2, Scale: math.Exp(-9.6),
		Coefficients: map[string]float64{
			"age": 0.06, "sbp": 0.012, "total_chol": 0.004, "hdl": -0.02,
			"smoker": 0.55, "diabetes": 0.6, "male": 0.4,
		},
		FollowUp: 15, Dropout: 0.03, Resolution: 0.1,
	}
}

// Eta is β'x for p.
func (h *Hazard) Eta(p *Person) float64 {
	m := Logistic{Coefficients: h.Coefficients}
	return m.Eta(p)
}

// Draw draws p's observed follow-up time and whether it ended with the
// event, from r: the event time by inverting the Weibull survival
// function, exp(−Scale·exp(η)·t^Shape) = U, the loss to follow-up as an
// exponential time, the observation the first of those and FollowUp.
func (h *Hazard) Draw(p *Person, r *rand.Rand) (time float64, event bool) {
	rate := h.Scale * math.Exp(h.Eta(p))
	tEvent := math.Pow(-math.Log(1-r.Float64())/rate, 1/h.Shape)
	tLost := math.Inf(1)
	if h.Dropout > 0 {
		tLost = r.ExpFloat64() / h.Dropout
	}
	t, event := tEvent, true
	if tLost < t {
		t, event = tLost, false
	}
	if t >= h.FollowUp {
		t, event = h.FollowUp, false
	}
	if h.Resolution > 0 {
		t = math.Max(h.Resolution, math.Ceil(t/h.Resolution-1e-9)*h.Resolution)
		t = math.Round(t/h.Resolution) * h.Resolution
		t = math.Round(t*1e6) / 1e6
	}
	return t, event
}

// Validate checks that the model's numbers are usable and its
// coefficients name risk factors.
func (h *Hazard) Validate() error {
	if !(h.Shape > 0 && h.Scale > 0 && h.FollowUp > 0 && h.Dropout >= 0 && h.Resolution >= 0) ||
		math.IsInf(h.Shape+h.Scale+h.FollowUp+h.Dropout+h.Resolution, 0) {
		return fmt.Errorf("synth: hazard model: shape, scale and follow-up must be positive and finite, dropout and resolution not negative")
	}
	m := Logistic{Coefficients: h.Coefficients}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("synth: hazard model: %w", err)
	}
	return nil
}
