package analysis

import (
	"fmt"
	"math"
	"sort"
)

// Federated Cox on a public time grid.
//
// The partial likelihood couples every row with every row at risk at each
// event time, so it does not split into per-site sums at the exact event
// times unless every site learns every event time — and the exact times
// of a cohort's events are record-level data. On a grid chosen by the
// requester (never read from the data) the model is the Cox model of the
// times coarsened to the grid (CoarsenTimes): events within an interval
// are tied at its end and the risk set at grid point k is everyone still
// followed at point k−1. Its likelihood, score and information at β are a
// function of, per grid point, the number of events and the risk set's and
// the events' sums Σw, Σw·x, Σw·x·x' (w = exp(x'β)), plus Σx over the
// events: sums over rows, which add across sites. Each site computes them
// on its own rows (CoxGridSums); secure aggregation adds them; everyone
// turns the total into the same Newton step (CoxGridStep). So a federated
// fit equals the fit of the coarsened pooled rows (FitCox on
// SurvivalData.Coarsened) up to the fixed-point rounding of the sums.
//
// The features are centred at a public point (the midpoint of the
// study's declared bounds, say) rather than at each site's means, which
// would not cancel in a sum across sites. The weights are scaled by a
// public factor exp(−shift) the same at every site: with shift ≥ max x'β
// (CoxShift) every w is at most 1, so the sums have public bounds (a
// study's range proofs) and fit fixed point; CoxGridStep adds the shift
// back to the log-likelihood, and the score and information do not
// depend on it.

// CoxGridLen is the length of a site's grid sums for p design columns and
// k grid points: N, events, Σx over the events (p), then per grid point
// the events d, the risk set's Σw, Σw·x, Σw·x·x' (packed) and the events'
// Σw, Σw·x, Σw·x·x'.
func CoxGridLen(p, k int) int { return 2 + p + k*coxGridBlock(p) }

func coxGridBlock(p int) int { return 1 + 2*(1+p+PackedLen(p)) }

// CoxShift is Σ|β_j|·maxAbs_j, the largest |x'β| of rows whose centred
// features lie within ±maxAbs.
func CoxShift(beta, maxAbs []float64) float64 {
	m := 0.0
	for j, b := range beta {
		m += math.Abs(b) * maxAbs[j]
	}
	return m
}

// CoxGridSums computes one site's grid sums at coefficients beta, with
// the features centred at center and the weights exp(x'β − shift).
func CoxGridSums(s *SurvivalData, grid, beta, center []float64, shift float64) ([]float64, error) {
	if err := ValidateGrid(grid); err != nil {
		return nil, err
	}
	p, K := len(s.X), len(grid)
	if len(beta) != p || len(center) != p {
		return nil, fmt.Errorf("analysis: %d coefficients and %d centres for %d design columns", len(beta), len(center), p)
	}
	out := make([]float64, CoxGridLen(p, K))
	out[0] = float64(s.N())
	B := coxGridBlock(p)
	block := func(k int) (d *float64, risk, ev riskSums) {
		b := out[2+p+k*B : 2+p+(k+1)*B]
		P := PackedLen(p)
		return &b[0], riskSums{s1: b[2 : 2+p], s2: b[2+p : 2+p+P]}, riskSums{s1: b[3+p+P : 3+2*p+P], s2: b[3+2*p+P:]}
	}
	// Each row's sums go to the grid point where it leaves the risk set;
	// a suffix sum then makes each point's risk set.
	x := make([]float64, p)
	leave := make([]riskSums, K)
	for k := range leave {
		leave[k] = newRiskSums(p)
	}
	evs := make([]riskSums, K)
	events := make([]float64, K)
	for k := range evs {
		evs[k] = newRiskSums(p)
	}
	for i, t := range s.Time {
		eta := 0.0
		for j := range p {
			x[j] = s.X[j][i] - center[j]
			eta += x[j] * beta[j]
		}
		w := math.Exp(eta - shift)
		k := sort.SearchFloat64s(grid, t)
		event := s.Event[i]
		if k == K {
			k, event = K-1, false
		}
		leave[k].add(w, x)
		if event {
			out[1]++
			events[k]++
			evs[k].add(w, x)
			for j := range p {
				out[2+j] += x[j]
			}
		}
	}
	acc := newRiskSums(p)
	for k := K - 1; k >= 0; k-- {
		acc.s0 += leave[k].s0
		addTo(acc.s1, leave[k].s1)
		addTo(acc.s2, leave[k].s2)
		d, risk, ev := block(k)
		*d = events[k]
		b := out[2+p+k*B:]
		b[1] = acc.s0
		copy(risk.s1, acc.s1)
		copy(risk.s2, acc.s2)
		b[2+p+PackedLen(p)] = evs[k].s0
		copy(ev.s1, evs[k].s1)
		copy(ev.s2, evs[k].s2)
	}
	return out, nil
}

func addTo(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// CoxGridStep is the Newton step of the grid Cox model at beta from the
// total of every site's grid sums (features centred and weights shifted
// as they were).
func CoxGridStep(sums []float64, p, k int, beta []float64, ties string, shift float64) (NewtonStep, error) {
	if len(sums) != CoxGridLen(p, k) || len(beta) != p {
		return NewtonStep{}, fmt.Errorf("analysis: grid sums of length %d and %d coefficients for %d columns and %d grid points", len(sums), len(beta), p, k)
	}
	if ties != TiesEfron && ties != TiesBreslow {
		return NewtonStep{}, paramErr("ties", "unknown ties method %q (want efron or breslow)", ties)
	}
	out := NewtonStep{Gradient: make([]float64, p), Hessian: make([]float64, PackedLen(p)), N: int(math.Round(sums[0])), Events: int(math.Round(sums[1]))}
	for j := range p {
		out.Gradient[j] = sums[2+j]
		out.LogLik += sums[2+j] * beta[j]
	}
	B, P := coxGridBlock(p), PackedLen(p)
	a, s1 := make([]float64, p), make([]float64, p)
	for g := range k {
		b := sums[2+p+g*B : 2+p+(g+1)*B]
		d := int(math.Round(b[0]))
		if d == 0 {
			continue
		}
		out.LogLik -= float64(d) * shift // each event's log Σw, unshifted
		risk := riskSums{s0: b[1], s1: b[2 : 2+p], s2: b[2+p : 2+p+P]}
		ev := riskSums{s0: b[2+p+P], s1: b[3+p+P : 3+2*p+P], s2: b[3+2*p+P:]}
		tieTerm(d, &risk, &ev, ties, &out.LogLik, out.Gradient, out.Hessian, a, s1)
	}
	return out, nil
}

// DefaultGridTol is FitCoxGridSums's default convergence tolerance. A
// study's sums are fixed point at 2⁻³⁰ of weights scaled below 1, so
// the log-likelihood and score carry rounding of about 1e-9 relative,
// and the coefficients cannot settle to the regressions' 1e-10. Newton's
// quadratic convergence makes the estimates after a step of 1e-6 accurate
// far below it (the masked fit equals the central one to 1e-6 relative,
// TestFederatedCoxThroughMaskedSums).
const DefaultGridTol = 1e-6

// FitCoxGridSums fits the grid Cox model from a source of summed grid
// sums — the secure aggregation of a study, or a test's plain sum — by the
// same Solver as FitCox (tolerance DefaultGridTol unless opts sets one).
// No concordance: no one sees the pooled rows.
func FitCoxGridSums(names []string, grid []float64, ties string, opts SolverOptions, sumsAt func(beta []float64) (sums []float64, shift float64, err error)) (*CoxFit, error) {
	if ties == "" {
		ties = TiesEfron
	}
	if err := ValidateGrid(grid); err != nil {
		return nil, err
	}
	p, K := len(names), len(grid)
	if p == 0 {
		return nil, paramErr("features", "a Cox model needs at least one feature")
	}
	if opts.Tol == 0 {
		opts.Tol = DefaultGridTol
	}
	fit, err := solveCox(names, ties, opts, func(beta []float64) (NewtonStep, error) {
		sums, shift, err := sumsAt(beta)
		if err != nil {
			return NewtonStep{}, err
		}
		return CoxGridStep(sums, p, K, beta, ties, shift)
	})
	if err != nil {
		return nil, err
	}
	fit.Grid = append([]float64(nil), grid...)
	return fit, nil
}

// EncodeValues turns real values into fixed point for secure aggregation
// (the layout is the caller's); Encode's range rule applies.
func (f FixedPoint) EncodeValues(vals []float64) ([]int64, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	limit := f.Limit()
	out := make([]int64, len(vals))
	for i, v := range vals {
		if !(math.Abs(v) < limit) {
			return nil, fmt.Errorf("analysis: value %d out of fixed-point range (|v| < %g)", i, limit)
		}
		out[i] = int64(math.Round(math.Ldexp(v, int(f.FracBits))))
	}
	return out, nil
}

// DecodeValues turns fixed point (or a sum of encodings) back into reals.
func (f FixedPoint) DecodeValues(enc []int64) []float64 {
	out := make([]float64, len(enc))
	for i, v := range enc {
		out[i] = math.Ldexp(float64(v), -int(f.FracBits))
	}
	return out
}
