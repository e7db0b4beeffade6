package analysis

import (
	"fmt"
	"strings"
)

// EvaluateParams name the outcome and the cohort on which to evaluate a
// saved model.
type EvaluateParams struct {
	Model   Model  `json:"model"`
	Outcome string `json:"outcome"`
	Filter  Filter `json:"filter,omitempty"`
}

// Evaluation is how well a saved binary-outcome model predicts on a cohort
// it was not fitted on: discrimination (AUC) and calibration (logistic
// recalibration and Hosmer–Lemeshow). A calibration slope below 1 means the
// model's predictions are too extreme for this cohort (overfitting); an
// intercept away from 0 means its average risk is off.
type Evaluation struct {
	N              int64           `json:"n"`
	Events         int64           `json:"events"`
	AUC            float64         `json:"auc"`
	Calibration    *Calibration    `json:"calibration,omitempty"`
	HosmerLemeshow *HosmerLemeshow `json:"hosmer_lemeshow,omitempty"`
}

// Evaluate computes a saved model's predictions on the selected complete
// cases and compares them with the outcome.
func Evaluate(t *Table, p EvaluateParams) (Evaluation, error) {
	m := p.Model
	if err := m.Validate(); err != nil {
		return Evaluation{}, fmt.Errorf("model: %w", err)
	}
	if !m.Link.binary() {
		return Evaluation{}, paramErr("model.link", "evaluation needs a binary-outcome model, not %q", m.Link)
	}
	// Each feature of a model is one design column: a product of parts
	// joined by ':' (models saved before R-style terms wrote '*').
	features := make([]string, len(m.Features))
	for j, f := range m.Features {
		if _, ok := t.byName[f]; !ok {
			f = strings.ReplaceAll(f, "*", ":")
		}
		features[j] = f
	}
	d, err := NewFactorDesign(t, p.Outcome, features, m.Factors, p.Filter)
	if err != nil {
		return Evaluation{}, err
	}
	if d.P() != len(m.Coefficients)+1 {
		return Evaluation{}, paramErr("model.features", "the features make %d columns for %d coefficients", d.P()-1, len(m.Coefficients))
	}
	if err := d.checkLink(m.Link); err != nil {
		return Evaluation{}, err
	}
	eta := d.linearPredictor(append([]float64{m.Intercept}, m.Coefficients...))
	rk, err := rank(eta, d.y)
	if err != nil {
		return Evaluation{}, err
	}
	e := Evaluation{N: int64(d.n), Events: int64(d.events), AUC: rk.auc(), HosmerLemeshow: rk.hosmerLemeshow(m.Link),
		Calibration: calibrate(d, eta, m.Link, false)}
	return e, nil
}
