package synth

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
)

// Outcome models: how a person's cvd_10y is drawn from their risk factors.
const (
	// OutcomeFramingham draws cvd_10y from the Framingham general CVD
	// 10-year risk (the default; Config.Outcome "" means it).
	OutcomeFramingham = "framingham"
	// OutcomeLogistic draws cvd_10y ~ Bernoulli(sigmoid(η)), η = Intercept
	// + Σ Coefficients[name]·factor(name), over the factors of
	// LogisticFactorNames. The risk factors are the same as in the Framingham
	// mode for the same seed; only the outcome (and Risk) differ.
	OutcomeLogistic = "logistic"
)

// Logistic is a logistic outcome model with known coefficients, on the
// raw scale of the factors named by LogisticFactorNames (years, mm[Hg], mg/dL,
// kg/m2, %, /min; 0/1 for the indicators). A factor it does not name has
// coefficient 0.
type Logistic struct {
	Intercept    float64            `json:"intercept"`
	Coefficients map[string]float64 `json:"coefficients"`
}

// DefaultLogistic is a CVD-like logistic model: odds ratios of about 2
// per decade of age, 1.16 per 10 mm[Hg] of systolic pressure, 1.05 per
// 10 mg/dL of total cholesterol, 0.82 per 10 mg/dL of HDL, 1.8 for current
// smoking, 1.9 for diabetes, 1.3 for treated blood pressure and 1.6 for
// men. On the synthetic cohort about 12% have an event.
func DefaultLogistic() Logistic {
	return Logistic{
		Intercept: -8.9,
		Coefficients: map[string]float64{
			"age":        0.07,
			"sbp":        0.015,
			"total_chol": 0.005,
			"hdl":        -0.02,
			"smoker":     0.6,
			"diabetes":   0.65,
			"bp_treated": 0.25,
			"male":       0.5,
		},
	}
}

// logisticFactors are the risk factors a Logistic model can use, by name,
// with how each is read from a Person (see LogisticFactor). The names are those of the CSV
// columns where there is one; the indicators are 1 or 0.
//
//	male           1 for men
//	age            whole years at the reference date
//	total_chol     total cholesterol, mg/dL
//	hdl            HDL cholesterol, mg/dL
//	ldl            LDL cholesterol, mg/dL
//	sbp, dbp       systolic and diastolic blood pressure, mm[Hg]
//	bmi            kg/m2
//	hba1c          %
//	glucose        mg/dL
//	heart_rate     /min
//	smoker         1 for a current smoker
//	former_smoker  1 for a former smoker
//	diabetes       1 if diagnosed
//	hypertension   1 if diagnosed
//	bp_treated     1 if on an antihypertensive
var logisticFactors = map[string]func(p *Person) float64{
	"male":          func(p *Person) float64 { return b2f(p.Sex == "male") },
	"age":           func(p *Person) float64 { return float64(p.Age) },
	"total_chol":    func(p *Person) float64 { return p.TotalChol },
	"hdl":           func(p *Person) float64 { return p.HDL },
	"ldl":           func(p *Person) float64 { return p.LDL },
	"sbp":           func(p *Person) float64 { return p.SBP },
	"dbp":           func(p *Person) float64 { return p.DBP },
	"bmi":           func(p *Person) float64 { return p.BMI },
	"hba1c":         func(p *Person) float64 { return p.HbA1c },
	"glucose":       func(p *Person) float64 { return p.Glucose },
	"heart_rate":    func(p *Person) float64 { return p.HeartRate },
	"smoker":        func(p *Person) float64 { return b2f(p.Smoking == SmokingCurrent) },
	"former_smoker": func(p *Person) float64 { return b2f(p.Smoking == SmokingFormer) },
	"diabetes":      func(p *Person) float64 { return b2f(p.Diabetes) },
	"hypertension":  func(p *Person) float64 { return b2f(p.Hypertension) },
	"bp_treated":    func(p *Person) float64 { return b2f(p.BPTreated) },
}

// LogisticFactorNames are the names a Logistic model's coefficients may
// use, sorted.
func LogisticFactorNames() []string {
	names := make([]string, 0, len(logisticFactors))
	for k := range logisticFactors {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// LogisticFactor is the value of the named risk factor for p, as a
// Logistic model sees it; ok is false for an unknown name.
func (p *Person) LogisticFactor(name string) (v float64, ok bool) {
	f, ok := logisticFactors[name]
	if !ok {
		return 0, false
	}
	return f(p), true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Validate checks that every coefficient names a factor of
// LogisticFactorNames and that all values are finite.
func (m *Logistic) Validate() error {
	if math.IsNaN(m.Intercept) || math.IsInf(m.Intercept, 0) {
		return fmt.Errorf("synth: logistic intercept %v is not finite", m.Intercept)
	}
	for _, name := range m.names() {
		if _, ok := logisticFactors[name]; !ok {
			return fmt.Errorf("synth: logistic coefficient %q: no such risk factor (want one of %v)", name, LogisticFactorNames())
		}
		if b := m.Coefficients[name]; math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("synth: logistic coefficient %q = %v is not finite", name, b)
		}
	}
	return nil
}

// names are the coefficients' names, sorted, so that η sums in a fixed
// order and is reproducible to the bit.
func (m *Logistic) names() []string {
	names := make([]string, 0, len(m.Coefficients))
	for k := range m.Coefficients {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// compiled is a validated Logistic ready to evaluate.
type compiledLogistic struct {
	intercept float64
	beta      []float64
	x         []func(p *Person) float64
}

func (m *Logistic) compile() compiledLogistic {
	c := compiledLogistic{intercept: m.Intercept}
	for _, name := range m.names() {
		c.beta = append(c.beta, m.Coefficients[name])
		c.x = append(c.x, logisticFactors[name])
	}
	return c
}

// eta is the linear predictor for p.
func (c *compiledLogistic) eta(p *Person) float64 {
	eta := c.intercept
	for j, f := range c.x {
		eta += c.beta[j] * f(p)
	}
	return eta
}

// Eta is the model's linear predictor for p.
func (m *Logistic) Eta(p *Person) float64 {
	c := m.compile()
	return c.eta(p)
}

// TruthModel describes the outcome model a cohort was drawn from: what
// WriteTruthModel writes next to the truth file.
type TruthModel struct {
	Outcome string `json:"outcome"` // OutcomeFramingham or OutcomeLogistic
	// Link and Logistic are set for OutcomeLogistic: cvd_10y ~
	// Bernoulli(1/(1+exp(−η))), η = intercept + Σ coefficient·factor.
	Link     string    `json:"link,omitempty"`
	Logistic *Logistic `json:"logistic,omitempty"`
	Factors  string    `json:"factors,omitempty"`
	Seed     int64     `json:"seed"`
	N        int       `json:"n"`
	RefDate  string    `json:"ref_date"`
	// Hazard is the model cvd_time and cvd_event were drawn from.
	Hazard *Hazard `json:"hazard"`
}

// Model is the truth model of cfg, with the defaults filled in.
func (cfg Config) Model() (TruthModel, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return TruthModel{}, err
	}
	m := TruthModel{Outcome: cfg.Outcome, Seed: cfg.Seed, N: cfg.N, RefDate: cfg.RefDate.Format("2006-01-02"), Hazard: cfg.Hazard}
	if cfg.Outcome == OutcomeLogistic {
		m.Link = "logit"
		m.Logistic = cfg.Logistic
		m.Factors = "raw units: age years; sbp, dbp mm[Hg]; total_chol, hdl, ldl, glucose mg/dL; bmi kg/m2; hba1c %; heart_rate /min; male, smoker, former_smoker, diabetes, hypertension, bp_treated 0/1"
	}
	return m, nil
}

// WriteTruthModel writes cfg's truth model as indented JSON: the outcome
// model and, for a logistic outcome, the coefficients the outcome was
// drawn from. Like the truth file, it is the answer key.
func WriteTruthModel(w io.Writer, cfg Config) error {
	m, err := cfg.Model()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// ReadLogistic reads a Logistic model from JSON, {"intercept": …,
// "coefficients": {"age": …, …}}, and validates it.
func ReadLogistic(r io.Reader) (Logistic, error) {
	var m Logistic
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Logistic{}, fmt.Errorf("synth: logistic model: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Logistic{}, err
	}
	return m, nil
}
