package outputctl

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

// Differentially private pooled studies: RegressPrivate's DP-IRLS with the
// noise added at every site. Each site scales its features to [−1, 1] by
// the study's public bounds, and for each of a fixed number of rounds adds
// discrete Laplace noise to its own score and information at the current
// coefficients — with its whole epsilon share, as if it were releasing
// them alone — then masks them; the ledger sums the noisy contributions.
// So each site's contribution is ε-differentially private on its own
// rows (with δ ≈ e⁻⁴⁸ from clipping the noise so that the ledger can
// bound it), even towards the other sites, who see the sum; the sum
// carries the noise of every site, which the standard errors include.

// PooledStep is a site's noisy Newton step on its scaled design at beta:
// the score (L1 sensitivity p) and packed information (p(p+1)/8) with
// noise at an epsilon of EpsilonMilli/shares each, clipped at
// federated.NoiseMargin. N, events and the log-likelihood are zero (counts
// come once, in the final iteration; a fixed-round fit needs no
// log-likelihood).
func (r *Releaser) PooledStep(scaled *analysis.Design, beta []float64, shares uint64) (analysis.NewtonStep, error) {
	share, err := r.share(shares)
	if err != nil {
		return analysis.NewtonStep{}, err
	}
	step, err := analysis.LocalStep(scaled, beta, analysis.Logit)
	if err != nil {
		return analysis.NewtonStep{}, err
	}
	clip := func(units uint64) uint64 { return federated.NoiseMargin(units, share) }
	p := scaled.P()
	out := analysis.NewtonStep{}
	if out.Gradient, _, err = r.noisyRealsClipped(step.Gradient, float64(p), share, clip); err != nil {
		return analysis.NewtonStep{}, err
	}
	if out.Hessian, _, err = r.noisyRealsClipped(step.Hessian, float64(analysis.PackedLen(p))/4, share, clip); err != nil {
		return analysis.NewtonStep{}, err
	}
	return out, nil
}

// PooledCounts is a site's noisy N and events in a private study
// (sensitivity 1 each, a share each), clipped like PooledStep.
func (r *Releaser) PooledCounts(n, events int64, shares uint64) (int64, int64, error) {
	share, err := r.share(shares)
	if err != nil {
		return 0, 0, err
	}
	return r.NoisyCounts(n, events, 1, share)
}

// NoisyCounts adds discrete Laplace noise of L1 sensitivity units at
// shareMilli to N and events, clipped at federated.NoiseMargin.
func (r *Releaser) NoisyCounts(n, events int64, units, shareMilli uint64) (int64, int64, error) {
	if r.Noise == nil || shareMilli == 0 {
		return 0, 0, fmt.Errorf("outputctl: noisy counts need an epsilon and a noise source")
	}
	share := shareMilli
	m := int64(federated.NoiseMargin(units, share))
	out := [2]int64{n, events}
	for i, v := range out {
		z, err := r.noisy(v, units, share)
		if err != nil {
			return 0, 0, err
		}
		out[i] = v + min(max(z-v, -m), m)
	}
	return out[0], out[1], nil
}

func (r *Releaser) share(shares uint64) (uint64, error) {
	if !r.private() || r.Noise == nil {
		return 0, fmt.Errorf("outputctl: a private study needs an epsilon and a noise source")
	}
	share := r.Policy.EpsilonMilli / shares
	if share == 0 {
		return 0, fmt.Errorf("outputctl: epsilon %d milli is too small for %d noisy quantities", r.Policy.EpsilonMilli, shares)
	}
	return share, nil
}

// PooledPrivateFit is the outcome of a private study's rounds, as every
// worker replays it from the ledger's sums.
type PooledPrivateFit struct {
	Beta []float64           // on the scaled features, after the last round
	Last analysis.NewtonStep // the last summed noisy step
	// SiteEpsilonMilli is each site's epsilon for the job, for the sites
	// summed in the last step: their noise is in it.
	SiteEpsilonMilli []uint64
	Shares           uint64
	N, Events        int64 // the summed noisy counts
	Rounds           int
}

// ReleasePooledPrivate releases a private study's regression: the
// coefficients mapped back to the features' units, and standard errors
// from the inverse of the last noisy information plus the variance every
// site's score noise adds to the last update. Counts are floored at the
// minimum cell. The release spends nothing here: each site's epsilon was
// spent on its contributions.
func (r *Releaser) ReleasePooledPrivate(d *analysis.Design, bounds []analysis.Bounds, fit PooledPrivateFit) (PrivateRegressionRelease, error) {
	p := d.P()
	inv, err := analysis.Covariance(fit.Last)
	if err != nil {
		return PrivateRegressionRelease{}, fmt.Errorf("%w (%v)", ErrNoiseTooLarge, err)
	}
	var noiseVar float64
	for _, eps := range fit.SiteEpsilonMilli {
		noiseVar += noiseVariance(federated.GradientUnits(p), eps/fit.Shares)
	}
	var total, sq mat.SymDense
	sq.SymOuterK(noiseVar, inv)
	total.ScaleSym(1, inv)
	total.AddSym(&total, &sq)
	est, cov := unscale(fit.Beta, &total, bounds, 1)
	n, events := r.ConsistentCounts(fit.N, fit.Events)
	reg := analysis.Regression{Link: analysis.Logit, Outcome: d.Outcome, StatName: "z", RatioName: analysis.Logit.RatioName(),
		N: n, Events: events, Iterations: fit.Rounds}
	reg.Coefficients = analysis.WaldTable(d.Names(), est, cov, analysis.Logit)
	reg.Model = analysis.Model{Link: analysis.Logit, Features: d.Features, Factors: d.Factors, Intercept: est[0], Coefficients: est[1:]}
	for _, c := range reg.Coefficients {
		if math.IsNaN(c.SE) || math.IsInf(c.SE, 0) || math.IsInf(c.Upper, 0) || (c.Ratio != nil && math.IsInf(c.Ratio.Upper, 0)) {
			return PrivateRegressionRelease{}, fmt.Errorf("%w: a statistic is not finite", ErrNoiseTooLarge)
		}
	}
	return PrivateRegressionRelease{RegressionRelease: RegressionRelease{Regression: reg, Noisy: true}, Bounds: bounds}, nil
}

// PooledHistogram is a site's share of a study's pooled diagnostics: per
// fixed risk bin at beta (on the design the steps were computed on), the
// events, the non-events and the sum of predicted risks (2⁻¹⁰ units), each
// part with discrete Laplace noise at shareMilli (one row changes the counts
// by 1 in L1 and the sums by at most 1), clipped at federated.NoiseMargin.
// Noise keeps small bins from being published exactly: the sums are public.
func (r *Releaser) PooledHistogram(d *analysis.Design, beta []float64, link analysis.Link, spec federated.Spec, shareMilli uint64) ([]int64, error) {
	if r.Noise == nil || shareMilli == 0 {
		return nil, fmt.Errorf("outputctl: the diagnostics need an epsilon and a noise source")
	}
	ev, ne, mu, err := d.Histogram(beta, link, int(spec.Bins))
	if err != nil {
		return nil, err
	}
	return r.PooledRiskHistogram(ev, ne, mu, shareMilli)
}

// PooledRiskHistogram is a site's noisy risk-bin histogram from its exact
// one (events, non-events and sums of predicted risk per bin, k bins
// each): what PooledHistogram posts for a regression, and a trees study
// for its model's predictions.
func (r *Releaser) PooledRiskHistogram(ev, ne []int64, mu []float64, shareMilli uint64) ([]int64, error) {
	if r.Noise == nil || shareMilli == 0 {
		return nil, fmt.Errorf("outputctl: the diagnostics need an epsilon and a noise source")
	}
	k := len(ev)
	mc := int64(federated.NoiseMargin(1, shareMilli))
	out := make([]int64, 0, 3*k)
	for _, v := range append(ev, ne...) {
		z, err := r.noisy(v, 1, shareMilli)
		if err != nil {
			return nil, err
		}
		out = append(out, v+min(max(z-v, -mc), mc))
	}
	clip := func(units uint64) uint64 { return federated.NoiseMargin(units, shareMilli) }
	noisyMu, _, err := r.noisyRealsClipped(mu, 1, shareMilli, clip)
	if err != nil {
		return nil, err
	}
	for _, v := range noisyMu {
		out = append(out, int64(math.Round(v/quantum)))
	}
	return out, nil
}

// PooledDiagnostics are a study's discrimination and calibration from its
// summed noisy histogram.
type PooledDiagnostics struct {
	AUC         float64               `json:"auc"`
	Calibration *analysis.Calibration `json:"calibration,omitempty"`
	// Bins are the calibration table: adjacent risk bins merged until each
	// holds at least the minimum cell of (noisy) rows.
	Bins []CalibrationBin `json:"bins"`
}

// CalibrationBin is one row of a calibration table.
type CalibrationBin struct {
	RiskFrom float64 `json:"risk_from"`
	RiskTo   float64 `json:"risk_to"`
	N        int64   `json:"n"`
	Observed float64 `json:"observed"` // event rate
	Expected float64 `json:"expected"` // mean predicted risk
}

// ReleasePooledDiagnostics turns a summed histogram (the tail of a final
// sum) into diagnostics, or nil when the noisy totals of events or
// non-events are below the minimum cohort (as for a released ROC curve).
func (r *Releaser) ReleasePooledDiagnostics(hist []int64, bins int) *PooledDiagnostics {
	if bins == 0 || len(hist) != 3*bins {
		return nil
	}
	ev, ne, mu := make([]float64, bins), make([]float64, bins), make([]float64, bins)
	var te, tn float64
	for b := range bins {
		ev[b], ne[b] = float64(max(hist[b], 0)), float64(max(hist[bins+b], 0))
		mu[b] = max(float64(hist[2*bins+b])*quantum, 0)
		te, tn = te+ev[b], tn+ne[b]
	}
	if te < float64(r.Policy.MinCohort) || tn < float64(r.Policy.MinCohort) {
		return nil
	}
	out := &PooledDiagnostics{AUC: analysis.BinnedAUC(ev, ne)}
	minCell := float64(r.Policy.minCell())
	var gev, gn, gmu []float64
	var cur CalibrationBin
	var ce, cn, cm float64
	flush := func(to int) {
		cur.RiskTo = float64(to) / float64(bins)
		cur.N = int64(cn)
		cur.Observed = ce / cn
		cur.Expected = min(cm/cn, 1)
		out.Bins = append(out.Bins, cur)
		gev, gn, gmu = append(gev, ce), append(gn, cn), append(gmu, cur.Expected)
		ce, cn, cm = 0, 0, 0
		cur = CalibrationBin{RiskFrom: float64(to) / float64(bins)}
	}
	for b := range bins {
		ce, cn, cm = ce+ev[b], cn+ev[b]+ne[b], cm+mu[b]
		if cn >= minCell && b < bins-1 {
			flush(b + 1)
		}
	}
	if cn > 0 {
		if cn < minCell && len(out.Bins) > 0 {
			// The last group is too small: merge it into the one before.
			last := out.Bins[len(out.Bins)-1]
			ce += last.Observed * float64(last.N)
			cm += last.Expected * float64(last.N)
			cn += float64(last.N)
			cur.RiskFrom = last.RiskFrom
			out.Bins, gev, gn, gmu = out.Bins[:len(out.Bins)-1], gev[:len(gev)-1], gn[:len(gn)-1], gmu[:len(gmu)-1]
		}
		flush(bins)
	}
	if cal, err := analysis.GroupedCalibration(gev, gn, gmu); err == nil {
		out.Calibration = cal
	}
	return out
}

// ConsistentCounts floors noisy N at the minimum cell and keeps events and
// non-events at least a cell each, as every noisy count release does.
func (r *Releaser) ConsistentCounts(n, events int64) (int64, int64) {
	c := r.Policy.minCell()
	n = max(n, c)
	return n, min(max(events, c), max(n-c, c))
}
