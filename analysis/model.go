package analysis

import "fmt"

// Model is a fitted regression saved for prediction: η = Intercept +
// Σ Coefficients[j]·x[j], the prediction being the link's mean at η (a
// probability for logit and cloglog, η itself for identity). The zk
// package commits to its quantised weights.
type Model struct {
	Link         Link      `json:"link"`
	Features     []string  `json:"features"` // one per design column, named as R names them
	Intercept    float64   `json:"intercept"`
	Coefficients []float64 `json:"coefficients"`
	// Factors are the categorical predictors the features' level
	// columns (sexmale) belong to, so the model can be evaluated on a
	// table again.
	Factors []Factor `json:"factors,omitempty"`
}

// Validate checks that the model is usable.
func (m *Model) Validate() error {
	if err := m.Link.validate(); err != nil {
		return err
	}
	if len(m.Features) != len(m.Coefficients) {
		return fmt.Errorf("analysis: model has %d features but %d coefficients", len(m.Features), len(m.Coefficients))
	}
	if !finite(m.Intercept) {
		return fmt.Errorf("analysis: model intercept is not finite")
	}
	for j, c := range m.Coefficients {
		if !finite(c) {
			return fmt.Errorf("analysis: model coefficient for %q is not finite", m.Features[j])
		}
	}
	return nil
}

// LinearPredictor is η for one observation: x[j] is the value of
// Features[j] — for a derived feature such as "log(age)", that logarithm.
func (m *Model) LinearPredictor(x []float64) (float64, error) {
	if len(x) != len(m.Coefficients) {
		return 0, fmt.Errorf("analysis: %d values for a model with %d features", len(x), len(m.Coefficients))
	}
	eta := m.Intercept
	for j, v := range x {
		if !finite(v) {
			return 0, fmt.Errorf("analysis: value for %q is not finite", m.Features[j])
		}
		eta += m.Coefficients[j] * v
	}
	return eta, nil
}

// Predict is the model's prediction for one observation.
func (m *Model) Predict(x []float64) (float64, error) {
	if err := m.Link.validate(); err != nil {
		return 0, err
	}
	eta, err := m.LinearPredictor(x)
	if err != nil {
		return 0, err
	}
	return m.Link.Mean(eta), nil
}

// PredictValues is the model's prediction from raw named values, derived
// features computed as in a design: {"age": 61, "sbp": 140, "treated": 1}
// serves features "log(age)" and "log(sbp):treated".
func (m *Model) PredictValues(values map[string]float64) (float64, error) {
	x := make([]float64, len(m.Features))
	for j, f := range m.Features {
		v, err := featureValue(f, values)
		if err != nil {
			return 0, err
		}
		x[j] = v
	}
	return m.Predict(x)
}
