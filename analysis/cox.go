package analysis

import (
	"fmt"
	"math"
	"slices"
)

// CoxFit is a fitted Cox proportional-hazards model: coefficients with
// hazard ratios (Ratio) and 95% intervals, the partial log-likelihood at
// zero and at the estimates, the likelihood-ratio, Wald and score
// (log-rank) tests of all coefficients being zero, and Harrell's
// concordance of the linear predictor with the observed times.
type CoxFit struct {
	Ties         string        `json:"ties"`
	N            int64         `json:"n"`
	Events       int64         `json:"events"`
	Coefficients []Coefficient `json:"coefficients"`
	LogLikNull   float64       `json:"loglik_null"`
	LogLik       float64       `json:"loglik"`
	LR           Test          `json:"lr_test"`
	Wald         Test          `json:"wald_test"`
	Score        Test          `json:"score_test"`
	// Concordance is nil for a pooled fit: no site sees the others'
	// predictions, so no one can rank pairs across sites.
	Concordance *float64  `json:"concordance,omitempty"`
	Iterations  int       `json:"iterations"`
	Grid        []float64 `json:"grid,omitempty"` // the times were coarsened to this grid
}

// Test is a chi-squared test statistic with its degrees of freedom and
// p-value.
type Test struct {
	Chisq float64 `json:"chisq"`
	DF    int     `json:"df"`
	P     float64 `json:"p"`
}

// coxData is a survival design laid out for the partial likelihood: rows
// sorted by time, latest first, so that risk sets grow as they are read;
// features row-major and centred, which changes no estimate (the partial
// likelihood is a ratio in which a common factor exp(c'β) cancels) but
// keeps exp(x'β) in range.
type coxData struct {
	n, p  int
	x     []float64 // x[i*p+j]
	event []bool
	// ties are the [start, end) row ranges sharing a time, latest first.
	ties   [][2]int
	events int
	eta    []float64
}

func newCoxData(s *SurvivalData, center []float64) *coxData {
	n, p := s.N(), len(s.X)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(s.Time[b], s.Time[a]) })
	c := &coxData{n: n, p: p, x: make([]float64, n*p), event: make([]bool, n), eta: make([]float64, n)}
	for r, i := range order {
		for j := range p {
			c.x[r*p+j] = s.X[j][i] - center[j]
		}
		c.event[r] = s.Event[i]
		if s.Event[i] {
			c.events++
		}
		if r == 0 || s.Time[i] != s.Time[order[r-1]] {
			c.ties = append(c.ties, [2]int{r, r})
		}
		c.ties[len(c.ties)-1][1] = r + 1
	}
	return c
}

// means are the design columns' means.
func means(s *SurvivalData) []float64 {
	m := make([]float64, len(s.X))
	for j, col := range s.X {
		sum := 0.0
		for _, v := range col {
			sum += v
		}
		if len(col) > 0 {
			m[j] = sum / float64(len(col))
		}
	}
	return m
}

// riskSums accumulates Σ w, Σ w·x and the packed Σ w·x·x' of rows.
type riskSums struct {
	s0 float64
	s1 []float64
	s2 []float64
}

func newRiskSums(p int) riskSums {
	return riskSums{s1: make([]float64, p), s2: make([]float64, PackedLen(p))}
}

func (r *riskSums) add(w float64, x []float64) {
	r.s0 += w
	k := 0
	for j, xj := range x {
		wx := w * xj
		r.s1[j] += wx
		for _, xl := range x[j:] {
			r.s2[k] += wx * xl
			k++
		}
	}
}

func (r *riskSums) reset() {
	r.s0 = 0
	clear(r.s1)
	clear(r.s2)
}

// tieTerm adds one tied time's terms to the log-likelihood, score and
// information: d events, risk sums risk, and (for Efron) the events' own
// sums ev, whose share l/d is taken out of the risk set for the l-th
// event.
func tieTerm(d int, risk, ev *riskSums, ties string, ll *float64, grad, info, a, s1 []float64) {
	p := len(grad)
	steps, weight := d, 1.0
	if ties == TiesBreslow {
		steps, weight = 1, float64(d)
	}
	for l := range steps {
		f := float64(l) / float64(d)
		s0 := risk.s0
		copy(s1, risk.s1)
		if f > 0 {
			s0 -= f * ev.s0
			for j := range s1 {
				s1[j] -= f * ev.s1[j]
			}
		}
		*ll -= weight * math.Log(s0)
		for j := range p {
			a[j] = s1[j] / s0
			grad[j] -= weight * a[j]
		}
		k := 0
		for j := range p {
			for m := j; m < p; m++ {
				s2 := risk.s2[k]
				if f > 0 {
					s2 -= f * ev.s2[k]
				}
				info[k] += weight * (s2/s0 - a[j]*a[m])
				k++
			}
		}
	}
}

// step is the partial likelihood's Newton step at beta: its score, its
// observed information (packed), its log-likelihood.
func (c *coxData) step(beta []float64, ties string) NewtonStep {
	p := c.p
	for i := range c.n {
		e := 0.0
		for j, b := range beta {
			e += c.x[i*p+j] * b
		}
		c.eta[i] = e
	}
	out := NewtonStep{Gradient: make([]float64, p), Hessian: make([]float64, PackedLen(p)), N: c.n, Events: c.events}
	risk, ev := newRiskSums(p), newRiskSums(p)
	a, s1 := make([]float64, p), make([]float64, p)
	for _, t := range c.ties {
		ev.reset()
		d := 0
		for i := t[0]; i < t[1]; i++ {
			xi := c.x[i*p : (i+1)*p]
			w := math.Exp(c.eta[i])
			risk.add(w, xi)
			if c.event[i] {
				d++
				out.LogLik += c.eta[i]
				for j, v := range xi {
					out.Gradient[j] += v
				}
				if ties == TiesEfron {
					ev.add(w, xi)
				}
			}
		}
		if d > 0 {
			tieTerm(d, &risk, &ev, ties, &out.LogLik, out.Gradient, out.Hessian, a, s1)
		}
	}
	return out
}

// concordance is Harrell's C of risk scores eta (higher = earlier event)
// as R's survival package counts it: a pair is comparable when the one
// with the shorter time had the event (a censoring at the same time
// counts as longer); pairs tied on the score count one half; pairs with
// both events at the same time are not comparable. Ranks of the scores
// go through a Fenwick tree, so it takes O(n log n).
func (c *coxData) concordance() float64 {
	scores := slices.Clone(c.eta)
	slices.Sort(scores)
	scores = slices.Compact(scores)
	rank := func(v float64) int { i, _ := slices.BinarySearch(scores, v); return i + 1 }
	tree := make([]int64, len(scores)+1)
	add := func(i int) {
		for ; i < len(tree); i += i & -i {
			tree[i]++
		}
	}
	below := func(i int) int64 { // entries with rank ≤ i
		var s int64
		for ; i > 0; i -= i & -i {
			s += tree[i]
		}
		return s
	}
	var conc, disc, tied float64
	var seen int64
	for _, t := range c.ties {
		for i := t[0]; i < t[1]; i++ {
			if !c.event[i] {
				add(rank(c.eta[i]))
				seen++
			}
		}
		for i := t[0]; i < t[1]; i++ {
			if c.event[i] {
				r := rank(c.eta[i])
				lo, le := below(r-1), below(r)
				conc += float64(lo)
				tied += float64(le - lo)
				disc += float64(seen - le)
			}
		}
		for i := t[0]; i < t[1]; i++ {
			if c.event[i] {
				add(rank(c.eta[i]))
				seen++
			}
		}
	}
	if conc+disc+tied == 0 {
		return math.NaN()
	}
	return (conc + tied/2) / (conc + disc + tied)
}

// FitCox fits a Cox proportional-hazards model on s's design columns by
// Newton–Raphson on the partial likelihood, through the same Solver as the
// regressions (start at zero, step-halving, the same convergence rule).
func FitCox(s *SurvivalData, ties string, opts SolverOptions) (*CoxFit, error) {
	if ties == "" {
		ties = TiesEfron
	}
	if err := checkCox(s, ties); err != nil {
		return nil, err
	}
	c := newCoxData(s, means(s))
	fit, err := solveCox(s.Features, ties, opts, func(beta []float64) (NewtonStep, error) { return c.step(beta, ties), nil })
	if err != nil {
		return nil, err
	}
	cidx := c.concordance() // c.eta holds the final linear predictor
	if finite(cidx) {
		fit.Concordance = &cidx
	}
	for j := range fit.Coefficients {
		fit.Coefficients[j].Levels = s.Levels[j]
	}
	return fit, nil
}

func checkCox(s *SurvivalData, ties string) error {
	if ties != TiesEfron && ties != TiesBreslow {
		return paramErr("ties", "unknown ties method %q (want efron or breslow)", ties)
	}
	if len(s.X) == 0 {
		return paramErr("features", "a Cox model needs at least one feature")
	}
	if s.N() <= len(s.X) {
		return fmt.Errorf("%w: %d complete rows for %d coefficients", ErrTooFewRows, s.N(), len(s.X))
	}
	if s.Events() == 0 {
		return fmt.Errorf("%w: no events", ErrTooFewRows)
	}
	return nil
}

// solveCox drives the Solver with steps from stepAt (one site's data, or
// the sum of every site's grid sums) and builds the fit from the steps at
// zero and at the estimates.
func solveCox(names []string, ties string, opts SolverOptions, stepAt func(beta []float64) (NewtonStep, error)) (*CoxFit, error) {
	p := len(names)
	opts.Names = names
	sol, err := NewSolver(make([]float64, p), opts)
	if err != nil {
		return nil, err
	}
	var null NewtonStep
	for {
		st, err := stepAt(sol.Beta())
		if err != nil {
			return nil, err
		}
		if sol.Iterations() == 0 {
			null = st
		}
		done, err := sol.Observe(st)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	beta, _ := sol.Result()
	at, err := stepAt(beta) // the likelihood and information at the estimates themselves
	if err != nil {
		return nil, err
	}
	return CoxFitFromSteps(names, ties, beta, at, &null, sol.Iterations())
}

// CoxFitFromSteps builds a Cox fit from its estimates, the step whose
// information gives their covariance (at the estimates, or at the last
// point a study evaluated) and the step at zero coefficients (nil when
// there is none: a study whose first round restarted elsewhere; then
// there is no null log-likelihood, likelihood-ratio or score test). N and
// Events come from at.
func CoxFitFromSteps(names []string, ties string, beta []float64, at NewtonStep, null *NewtonStep, iterations int) (*CoxFit, error) {
	p := len(names)
	if len(beta) != p || len(at.Gradient) != p {
		return nil, fmt.Errorf("analysis: %d names, %d coefficients and a step for %d", p, len(beta), len(at.Gradient))
	}
	f, err := factorise(at)
	if err != nil {
		return nil, err
	}
	cov := f.inverse()
	fit := &CoxFit{Ties: ties, N: int64(at.N), Events: int64(at.Events), LogLik: at.LogLik, Iterations: iterations}
	for j, name := range names {
		se := math.Sqrt(cov.At(j, j))
		z := beta[j] / se
		lo, hi := beta[j]-z975*se, beta[j]+z975*se
		fit.Coefficients = append(fit.Coefficients, Coefficient{Name: name, Estimate: beta[j], SE: se, Stat: z, P: normalTwoSided(z),
			Lower: lo, Upper: hi, Ratio: &Interval{Estimate: math.Exp(beta[j]), Lower: math.Exp(lo), Upper: math.Exp(hi)}})
	}
	if null != nil {
		fit.LogLikNull = null.LogLik
		fit.LR = chiTest(2*(at.LogLik-null.LogLik), p)
	}
	// Wald: β' I β with I the information at the estimates.
	wald := 0.0
	for j := range p {
		for k := j; k < p; k++ {
			h := at.Hessian[PackedIndex(p, j, k)]
			if j == k {
				wald += beta[j] * h * beta[k]
			} else {
				wald += 2 * beta[j] * h * beta[k]
			}
		}
	}
	fit.Wald = chiTest(wald, p)
	// Score (log-rank) test at zero: U' I⁻¹ U.
	if null == nil {
		return fit, checkCoxFinite(fit)
	}
	if f0, err := factorise(*null); err == nil {
		u := f0.solve(null.Gradient)
		sc := 0.0
		for j := range p {
			sc += null.Gradient[j] * u[j]
		}
		fit.Score = chiTest(sc, p)
	}
	return fit, checkCoxFinite(fit)
}

func checkCoxFinite(fit *CoxFit) error {
	for _, c := range fit.Coefficients {
		if !finite(c.Estimate) || !finite(c.SE) {
			return fmt.Errorf("%w: the estimate of %q is not finite", ErrNotConverged, c.Name)
		}
	}
	return nil
}

func chiTest(x float64, df int) Test {
	return Test{Chisq: x, DF: df, P: chiSquaredUpper(x, float64(df))}
}
