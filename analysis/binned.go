package analysis

import (
	"fmt"
	"math"
)

// Binned diagnostics: the discrimination and calibration of a model
// summarised by counts per fixed bin of predicted risk — [0, 1/K), …,
// [(K−1)/K, 1] — which sites of a pooled study can add up (secure
// aggregation) where no site sees another's predictions.

// RiskBin is the bin of a predicted risk among k equal-width bins.
func RiskBin(mu float64, k int) int {
	b := int(mu * float64(k))
	return min(max(b, 0), k-1)
}

// Histogram counts, per risk bin at beta, the events, the non-events and
// the sum of the predicted risks.
func (d *Design) Histogram(beta []float64, link Link, k int) (events, nonEvents []int64, muSum []float64, err error) {
	if err := d.checkLink(link); err != nil {
		return nil, nil, nil, err
	}
	if len(beta) != d.P() || k < 1 {
		return nil, nil, nil, fmt.Errorf("analysis: %d coefficients for a design with %d, %d bins", len(beta), d.P(), k)
	}
	events, nonEvents, muSum = make([]int64, k), make([]int64, k), make([]float64, k)
	for i := range d.n {
		eta := beta[0]
		for j, col := range d.x {
			eta += beta[j+1] * col[i]
		}
		mu := link.Mean(eta)
		b := RiskBin(mu, k)
		if d.y[i] == 1 {
			events[b]++
		} else {
			nonEvents[b]++
		}
		muSum[b] += mu
	}
	return events, nonEvents, muSum, nil
}

// BinnedAUC is the area under the ROC curve of binned predictions: a pair
// of an event and a non-event counts 1 when the event's bin is higher and
// ½ when they share a bin (ties). Negative (noisy) counts count as zero.
// It is NaN without events or non-events.
func BinnedAUC(events, nonEvents []float64) float64 {
	var pairs, above, totalE, totalN float64
	for b := range events {
		totalE += max(events[b], 0)
		totalN += max(nonEvents[b], 0)
	}
	for b := range events {
		ne := max(nonEvents[b], 0)
		above = 0
		for c := b + 1; c < len(events); c++ {
			above += max(events[c], 0)
		}
		pairs += ne * (above + max(events[b], 0)/2)
	}
	if totalE == 0 || totalN == 0 {
		return math.NaN()
	}
	return pairs / (totalE * totalN)
}

// GroupedCalibration fits the logistic recalibration model
// logit P(y=1) = a + b·logit(p̄) on grouped outcomes: in group g, events[g]
// of n[g] rows whose mean predicted risk is meanPred[g]. Groups with no
// rows, or a mean risk of 0 or 1, are left out. It is the calibration
// intercept and slope of Calibration, from counts instead of rows.
func GroupedCalibration(events, n, meanPred []float64) (*Calibration, error) {
	var x, y, w []float64
	for g := range n {
		if n[g] <= 0 || !(meanPred[g] > 0 && meanPred[g] < 1) {
			continue
		}
		x = append(x, math.Log(meanPred[g]/(1-meanPred[g])))
		y = append(y, min(max(events[g], 0), n[g]))
		w = append(w, n[g])
	}
	if len(x) < 2 {
		return nil, fmt.Errorf("analysis: calibration needs two or more groups with rows")
	}
	a, b := 0.0, 1.0
	for range 50 {
		var g0, g1, h00, h01, h11 float64
		for i := range x {
			mu := 1 / (1 + math.Exp(-(a + b*x[i])))
			r := y[i] - w[i]*mu
			v := w[i] * mu * (1 - mu)
			g0 += r
			g1 += r * x[i]
			h00 += v
			h01 += v * x[i]
			h11 += v * x[i] * x[i]
		}
		det := h00*h11 - h01*h01
		if !(det > 0) {
			return nil, fmt.Errorf("analysis: calibration groups do not determine a slope")
		}
		da := (h11*g0 - h01*g1) / det
		db := (h00*g1 - h01*g0) / det
		a, b = a+da, b+db
		if math.Abs(da) < 1e-10 && math.Abs(db) < 1e-10 {
			return &Calibration{Intercept: a, Slope: b}, nil
		}
	}
	return nil, fmt.Errorf("%w: calibration fit", ErrNotConverged)
}
