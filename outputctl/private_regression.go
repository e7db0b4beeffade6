package outputctl

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

// DefaultPrivateRounds is how many Newton rounds a private logistic fit
// takes: from zero, five steps bring a logistic fit of moderate effects to
// within noise of its optimum.
const DefaultPrivateRounds = 5

// ErrNoiseTooLarge: the noisy information matrix could not be inverted —
// the cohort is too small for the epsilon. The epsilon is spent.
var ErrNoiseTooLarge = errors.New("noise overwhelms the data: cohort too small for this epsilon")

// PrivateRegression configures a differentially private regression.
type PrivateRegression struct {
	// Bounds clamp each feature, in the design's order; public, chosen by
	// the requester, never read from the data.
	Bounds []analysis.Bounds `json:"bounds"`
	// OutcomeBounds clamp the outcome of a linear regression (required for
	// the identity link, unused for logit).
	OutcomeBounds *analysis.Bounds `json:"outcome_bounds,omitempty"`
	// Rounds is the fixed number of Newton rounds of a logistic fit
	// (default DefaultPrivateRounds). A private fit cannot stop on a
	// convergence test without spending epsilon on it.
	Rounds int `json:"rounds,omitempty"`
}

// PrivateRegressionRelease is a differentially private regression.
type PrivateRegressionRelease struct {
	RegressionRelease
	Bounds        []analysis.Bounds `json:"bounds"`
	OutcomeBounds *analysis.Bounds  `json:"outcome_bounds,omitempty"`
}

// quantum is the grid step values are rounded to before noise is added:
// far finer than any noise the mechanism adds (scales of at least p/ε).
const quantum = 1.0 / 1024

// RegressPrivate fits a regression with differential privacy by noisy
// sufficient statistics, one Newton step at a time ("DP-IRLS"):
//
//   - the regression rules of ReleaseRegression are checked first, on the
//     exact design (a refusal costs nothing);
//   - every feature is clamped to its public bounds and mapped onto
//     [−1, 1] (and so is a linear regression's outcome), so one row adds at
//     most 1 in absolute value to each score entry and at most 1/4 (logit)
//     or 1 (linear) to each information entry;
//   - logit: from β = 0, each of Rounds rounds computes the Newton step on
//     the clamped data and adds discrete Laplace noise to the score (L1
//     sensitivity p) and to the information matrix's p(p+1)/2 entries (L1
//     sensitivity p(p+1)/8), then updates β with the noisy step;
//   - identity: one step at β = 0 is X'y, X'X and −½y'y, the sufficient
//     statistics of least squares, each made noisy (sensitivities p,
//     p(p+1)/2 and ½);
//   - N and events get their own noise (sensitivity 1), floored at MinCell;
//   - each noisy information matrix but the last has its eigenvalues
//     lifted to the noise's scale (InformationFloor) before it is stepped
//     through, so noise that makes an intermediate one indefinite shrinks
//     that step instead of failing the fit (post-processing: no privacy
//     cost). The last is used as it is: the standard errors come from it,
//     and a lifted matrix would claim information the data did not give
//     (too narrow intervals around an estimate shrunk towards zero), so a
//     last matrix the noise has made singular still fails the fit.
//
// The epsilon is split evenly over the noisy quantities: 2·Rounds + 2
// shares for logit, 4 for linear regression (sequential composition).
// Values are rounded to a 2⁻¹⁰ grid and the noise is integer, as for every
// other release. Standard errors combine the inverse of the last noisy
// information matrix with the variance the noise adds to the last update
// (for linear regression approximately, through the information noise too),
// so the intervals reflect both sampling and privacy noise. The
// coefficients are transformed back to the features' units; they describe
// the model on clamped features. AUC, calibration and Hosmer–Lemeshow are
// not released (they would need their own mechanisms).
//
// The price of pure ε-differential privacy is steep: at ε = 1 the noise on
// the information matrix is of the order of p²/ε, so a useful fit needs on
// the order of a hundred thousand rows or more. Policies for smaller
// cohorts should use exact regression under the safe-statistics rules.
func (r *Releaser) RegressPrivate(d *analysis.Design, link analysis.Link, pr PrivateRegression) (PrivateRegressionRelease, error) {
	if !r.private() {
		return PrivateRegressionRelease{}, fmt.Errorf("outputctl: the policy has no epsilon to spend on a private regression")
	}
	if link != analysis.Logit && link != analysis.Identity {
		return PrivateRegressionRelease{}, fmt.Errorf("outputctl: private regression supports the logit and identity links, not %q (the complementary log-log score is unbounded)", link)
	}
	rounds := pr.Rounds
	if link == analysis.Identity {
		rounds = 1
		if pr.OutcomeBounds == nil {
			return PrivateRegressionRelease{}, fmt.Errorf("outputctl: a private linear regression needs outcome_bounds")
		}
	} else if rounds == 0 {
		rounds = DefaultPrivateRounds
	}
	if rounds < 1 || rounds > 50 {
		return PrivateRegressionRelease{}, fmt.Errorf("outputctl: rounds must be between 1 and 50")
	}
	if err := r.regressionRules(d, link); err != nil {
		return PrivateRegressionRelease{}, err
	}
	shares := uint64(2*rounds + 2)
	if link == analysis.Identity {
		shares = 4
	}
	share := r.Policy.EpsilonMilli / shares
	if share == 0 {
		return PrivateRegressionRelease{}, fmt.Errorf("outputctl: epsilon %d milli is too small for %d noisy quantities", r.Policy.EpsilonMilli, shares)
	}
	var outcome *analysis.Bounds
	if link == analysis.Identity {
		outcome = pr.OutcomeBounds
	}
	scaled, err := d.Scaled(pr.Bounds, outcome)
	if err != nil {
		return PrivateRegressionRelease{}, err
	}
	spent, err := r.admit(int64(d.N()))
	if err != nil {
		return PrivateRegressionRelease{}, err
	}

	p := d.P()
	packed := float64(analysis.PackedLen(p))
	beta := make([]float64, p)
	var last analysis.NewtonStep
	var gVar, hVar float64
	for round := range rounds {
		step, err := analysis.LocalStep(scaled, beta, link)
		if err != nil {
			return PrivateRegressionRelease{}, err
		}
		hSens := packed / 4
		if link == analysis.Identity {
			hSens = packed
		}
		noisy := analysis.NewtonStep{N: step.N, Events: step.Events}
		if noisy.Gradient, gVar, err = r.noisyReals(step.Gradient, float64(p), share); err != nil {
			return PrivateRegressionRelease{}, err
		}
		if noisy.Hessian, hVar, err = r.noisyReals(step.Hessian, hSens, share); err != nil {
			return PrivateRegressionRelease{}, err
		}
		if link == analysis.Identity {
			ll, _, err := r.noisyReals([]float64{step.LogLik}, 0.5, share)
			if err != nil {
				return PrivateRegressionRelease{}, err
			}
			noisy.LogLik = ll[0]
		}
		if round < rounds-1 {
			if noisy, err = analysis.FloorInformation(noisy, InformationFloor(p, hVar)); err != nil {
				return PrivateRegressionRelease{}, fmt.Errorf("%w (%v)", ErrNoiseTooLarge, err)
			}
		}
		if beta, err = analysis.NextBeta(beta, noisy); err != nil {
			return PrivateRegressionRelease{}, fmt.Errorf("%w (%v)", ErrNoiseTooLarge, err)
		}
		last = noisy
	}
	inv, err := analysis.Covariance(last)
	if err != nil {
		return PrivateRegressionRelease{}, fmt.Errorf("%w (%v)", ErrNoiseTooLarge, err)
	}

	minCell := r.Policy.minCell()
	n, err := r.noisy(int64(d.N()), 1, share)
	if err != nil {
		return PrivateRegressionRelease{}, err
	}
	n = max(n, minCell)
	reg := analysis.Regression{Link: link, Outcome: d.Outcome, StatName: "z", RatioName: link.RatioName(), N: n, Iterations: rounds}
	// Sampling covariance: I⁻¹ (times σ² for least squares). Privacy
	// noise: the last update is I⁻¹(g + e), adding noiseVar·I⁻² (for least
	// squares the information noise E adds about Var(E)·‖β‖²·I⁻² more).
	sampling, noiseVar, scale := 1.0, gVar, 1.0
	if link == analysis.Identity {
		// Residual variance from the noisy sufficient statistics:
		// RSS = y'y − β'X'y at the least-squares solution.
		rss := -2 * last.LogLik
		norm2 := 0.0
		for j, b := range beta {
			rss -= b * last.Gradient[j]
			norm2 += b * b
		}
		sampling = max(rss, 0) / float64(max(n-int64(p), 1))
		noiseVar += hVar * norm2
		scale = (pr.OutcomeBounds.Upper - pr.OutcomeBounds.Lower) / 2
	} else {
		events, err := r.noisy(int64(d.Events()), 1, share)
		if err != nil {
			return PrivateRegressionRelease{}, err
		}
		reg.Events = min(max(events, minCell), n-minCell)
	}
	var total, sq mat.SymDense
	sq.SymOuterK(noiseVar, inv)
	total.ScaleSym(sampling, inv)
	total.AddSym(&total, &sq)
	est, covOrig := unscale(beta, &total, pr.Bounds, scale)
	if link == analysis.Identity {
		est[0] += pr.OutcomeBounds.Mid()
	}
	reg.Coefficients = analysis.WaldTable(d.Names(), est, covOrig, link)
	reg.Model = analysis.Model{Link: link, Features: d.Features, Factors: d.Factors, Intercept: est[0], Coefficients: est[1:]}
	for _, c := range reg.Coefficients {
		if math.IsNaN(c.SE) || math.IsInf(c.SE, 0) || math.IsInf(c.Upper, 0) || (c.Ratio != nil && math.IsInf(c.Ratio.Upper, 0)) {
			return PrivateRegressionRelease{}, fmt.Errorf("%w: a statistic is not finite", ErrNoiseTooLarge)
		}
	}
	return PrivateRegressionRelease{
		RegressionRelease: RegressionRelease{Regression: reg, Noisy: true, EpsilonSpentMilli: spent},
		Bounds:            pr.Bounds, OutcomeBounds: outcome,
	}, nil
}

// noisyReals rounds values to the quantum grid and adds discrete Laplace
// noise for an L1 sensitivity of sens (in the values' units) at epsMilli.
// The sensitivity in grid units allows two units per value for rounding
// (including floating-point summation error, far below a unit). It returns
// the noisy values and the noise variance per value, in the values' units.
func (r *Releaser) noisyReals(vals []float64, sens float64, epsMilli uint64) ([]float64, float64, error) {
	return r.noisyRealsClipped(vals, sens, epsMilli, nil)
}

// noisyRealsClipped is noisyReals with the noise clipped at clip(units)
// grid steps when clip is not nil (a pooled study's sites clip so that
// the ledger can bound their contributions).
func (r *Releaser) noisyRealsClipped(vals []float64, sens float64, epsMilli uint64, clip func(units uint64) uint64) ([]float64, float64, error) {
	units := uint64(math.Ceil(sens/quantum)) + 2*uint64(len(vals))
	out := make([]float64, len(vals))
	for i, v := range vals {
		q := math.Round(v / quantum)
		if !(math.Abs(q) < 1<<62) {
			return nil, 0, fmt.Errorf("outputctl: value out of range for the noise grid")
		}
		noisy, err := r.noisy(int64(q), units, epsMilli)
		if err != nil {
			return nil, 0, err
		}
		if clip != nil {
			m := int64(clip(units))
			noisy = int64(q) + min(max(noisy-int64(q), -m), m)
		}
		out[i] = float64(noisy) * quantum
	}
	return out, noiseVariance(units, epsMilli), nil
}

// InformationFloor is the smallest eigenvalue a noisy p×p information
// matrix is lifted to: twice the expected spectral norm scale of its noise,
// 2·√(p·v) for a per-entry noise variance v — the directions where the
// noise is as large as the signal.
func InformationFloor(p int, variance float64) float64 {
	if !(variance > 0) {
		return 0
	}
	return 2 * math.Sqrt(float64(p)*variance)
}

// PooledInformationFloor is InformationFloor for a private study's summed
// information matrix: each listed site's noise at its epsilon split into
// shares adds its variance.
func PooledInformationFloor(p int, siteEpsilonMilli []uint64, shares uint64) float64 {
	var v float64
	for _, eps := range siteEpsilonMilli {
		if share := eps / max(shares, 1); share > 0 {
			v += noiseVariance(federated.HessianUnits(p), share)
		}
	}
	return InformationFloor(p, v)
}

// noiseVariance is the variance of discrete Laplace noise of L1
// sensitivity units grid steps at epsMilli, in the values' units².
func noiseVariance(units, epsMilli uint64) float64 {
	decay := math.Exp(-float64(epsMilli) / (1000 * float64(units)))
	return 2 * decay / ((1 - decay) * (1 - decay)) * quantum * quantum
}

// unscale maps coefficients fitted on x' = (x − mid)/half back to x:
// β_j = s·β'_j/half_j and β_0 = s·(β'_0 − Σ β'_j·mid_j/half_j), with the
// covariance transformed alike (s scales a linear regression's outcome).
func unscale(beta []float64, cov *mat.SymDense, bounds []analysis.Bounds, s float64) ([]float64, *mat.SymDense) {
	p := len(beta)
	a := mat.NewDense(p, p, nil)
	a.Set(0, 0, s)
	for j, b := range bounds {
		half := (b.Upper - b.Lower) / 2
		a.Set(0, j+1, -s*b.Mid()/half)
		a.Set(j+1, j+1, s/half)
	}
	var est mat.VecDense
	est.MulVec(a, mat.NewVecDense(p, beta))
	var tmp, full mat.Dense
	tmp.Mul(a, cov)
	full.Mul(&tmp, a.T())
	out := mat.NewSymDense(p, nil)
	for i := range p {
		for j := i; j < p; j++ {
			out.SetSym(i, j, (full.At(i, j)+full.At(j, i))/2)
		}
	}
	return est.RawVector().Data, out
}

// regressionRules are ReleaseRegression's refusal rules on a design.
func (r *Releaser) regressionRules(d *analysis.Design, link analysis.Link) error {
	if err := r.Policy.Validate(); err != nil {
		return err
	}
	minCell := r.Policy.minCell()
	n := int64(d.N())
	if n < r.Policy.MinCohort {
		return fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if n-int64(d.P()) < minCell {
		return fmt.Errorf("%w: fewer than %d residual degrees of freedom", ErrBelowMinCohort, minCell)
	}
	if link != analysis.Identity && (int64(d.Events()) < minCell || n-int64(d.Events()) < minCell) {
		return fmt.Errorf("%w: events and non-events must each be at least %d", ErrTooFewEvents, minCell)
	}
	for j, name := range d.Features {
		if l := d.Levels(j); l != nil && (l.Zeros < minCell || l.Ones < minCell) {
			return fmt.Errorf("%w: %q needs at least %d rows at 0 and at 1", ErrSmallGroup, name, minCell)
		}
	}
	if err := supportRule(d, minCell); err != nil {
		return err
	}
	// Every level of a factor, the reference included, describes a group
	// of patients: none may be smaller than the minimum cohort. The
	// levels are the requester's, so the refusal names one without
	// revealing a value; merge a rare level into another, or leave it out.
	for _, lc := range d.FactorLevels {
		if int64(lc.N) < r.Policy.MinCohort {
			return fmt.Errorf("%w: level %q of factor %q has fewer than %d rows (merge it with another level, or leave it out of the levels)",
				ErrSmallGroup, lc.Level, lc.Column, r.Policy.MinCohort)
		}
	}
	return nil
}

// supportRule refuses a design with a column that is nonzero on fewer
// than minCell rows, or zero on 1…minCell−1 rows. Such a column — an
// interaction of a measurement with a rare 0/1 column (age:flag, flag on
// one patient), or its complement — lets the fit reproduce the rows it
// singles out, whatever the 0/1 rule says about the columns it is made of.
// A measurement that is never 0 passes.
func supportRule(d *analysis.Design, minCell int64) error {
	x, _, _ := d.Columns()
	return columnSupport(x, d.Features, minCell)
}

// columnSupport is supportRule on columns x[j][row] named names[j].
func columnSupport(x [][]float64, names []string, minCell int64) error {
	for j, col := range x {
		var nonzero int64
		for _, v := range col {
			if v != 0 {
				nonzero++
			}
		}
		zero := int64(len(col)) - nonzero
		if nonzero < minCell || (zero > 0 && zero < minCell) {
			return fmt.Errorf("%w: %q needs at least %d rows where it is not 0, and none or at least %d where it is", ErrSmallGroup, names[j], minCell, minCell)
		}
	}
	return nil
}
