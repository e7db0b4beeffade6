package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Convergence defaults, as in R's glm: at most 25 iterations.
const (
	DefaultMaxIter = 25
	// DefaultTol: converged when no coefficient moves by more than this,
	// relative to max(1, |β|). Newton–Raphson converges quadratically, so
	// this costs about one iteration more than a loose tolerance would.
	DefaultTol = 1e-10
)

// SolverOptions tune a Solver; zero values mean the defaults.
type SolverOptions struct {
	MaxIter int      // Newton steps (passes over the data) allowed
	Tol     float64  // relative change of every coefficient at convergence
	Names   []string // coefficient names, for error messages
	// Resolution is how far each entry of an observed score (gradient)
	// may be from the exact one because it was rounded — a pooled study's
	// sites each round their steps to a fixed-point grid before they are
	// summed. 0 for exact arithmetic. A step no larger than what that
	// rounding alone could cause, I⁻¹ times a score error of Resolution in
	// each entry, also counts as converged: nearer to the optimum the sums
	// cannot tell, and asking for Tol there would never end.
	Resolution float64
}

func (o SolverOptions) withDefaults() SolverOptions {
	if o.MaxIter == 0 {
		o.MaxIter = DefaultMaxIter
	}
	if o.Tol == 0 {
		o.Tol = DefaultTol
	}
	return o
}

func (o SolverOptions) validate() error {
	if o.MaxIter < 0 || o.MaxIter > 1000 {
		return paramErr("max_iter", "must be between 1 and 1000 (0 for the default %d)", DefaultMaxIter)
	}
	if !(o.Tol >= 0 && o.Tol < 1) {
		return paramErr("tol", "must be in [0, 1) (0 for the default %g)", DefaultTol)
	}
	return nil
}

// Solver runs Newton–Raphson over steps computed elsewhere: ask for Beta,
// have every site compute its LocalStep there, feed the CombineSteps sum to
// Observe, and repeat until Observe reports done. It halves the step when
// the log-likelihood falls (Fisher scoring with a non-canonical link can
// overshoot), and tells separation from other failures to converge.
//
// The single-site fit and a federated study drive the same Solver, so they
// follow the same path to the same estimates.
type Solver struct {
	opts     SolverOptions
	p        int
	beta     []float64 // where the next step is to be computed
	prev     []float64 // last accepted point
	prevLL   float64
	iter     int
	halvings int
	deltas   [][]float64 // recent accepted updates, newest last
	done     bool
	final    []float64
	at       NewtonStep
}

// separationWindow is how many consecutive updates must push a coefficient
// the same way before non-convergence is blamed on separation.
const separationWindow = 5

// NewSolver starts Newton–Raphson at start (the intercept first).
func NewSolver(start []float64, opts SolverOptions) (*Solver, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if len(start) == 0 {
		return nil, fmt.Errorf("analysis: no coefficients to solve for")
	}
	opts = opts.withDefaults()
	if opts.Names != nil && len(opts.Names) != len(start) {
		return nil, fmt.Errorf("analysis: %d names for %d coefficients", len(opts.Names), len(start))
	}
	return &Solver{opts: opts, p: len(start), beta: slices.Clone(start)}, nil
}

// StartBeta is a good place to start: the intercept fitting the overall
// event rate (or mean), every other coefficient zero. A federated study can
// compute it from a first round that only sums N and Events.
func StartBeta(link Link, p, n, events int) []float64 {
	b := make([]float64, p)
	if n > 0 && link.binary() {
		// Keep the rate away from 0 and 1 so the start is finite.
		rate := (float64(events) + 0.5) / (float64(n) + 1)
		switch link {
		case Logit:
			b[0] = math.Log(rate / (1 - rate))
		case CLogLog:
			b[0] = math.Log(-math.Log1p(-rate))
		}
	}
	return b
}

// Beta is where the next step is to be computed.
func (s *Solver) Beta() []float64 { return slices.Clone(s.beta) }

// Iterations is the number of steps observed so far.
func (s *Solver) Iterations() int { return s.iter }

// Observe takes the combined step at Beta() and moves on. It returns true
// once converged; the estimates are then in Result.
func (s *Solver) Observe(step NewtonStep) (done bool, err error) {
	if s.done {
		return true, fmt.Errorf("analysis: solver already converged")
	}
	if p, err := step.dim(); err != nil {
		return false, err
	} else if p != s.p {
		return false, fmt.Errorf("analysis: step for %d coefficients, solver has %d", p, s.p)
	}
	if math.IsNaN(step.LogLik) {
		return false, fmt.Errorf("analysis: log-likelihood is NaN")
	}
	s.iter++
	if s.prev != nil && step.LogLik < s.prevLL-1e-10*(1+math.Abs(s.prevLL)) {
		// The log-likelihood fell: go back halfway towards the last point.
		s.halvings++
		if s.halvings > 30 || s.iter >= s.opts.MaxIter {
			return false, fmt.Errorf("%w: step-halving could not increase the log-likelihood", ErrNotConverged)
		}
		for j := range s.beta {
			s.beta[j] = (s.beta[j] + s.prev[j]) / 2
		}
		return false, nil
	}
	next, err := NextBeta(s.beta, step)
	if err != nil {
		var se *SingularError
		if errors.As(err, &se) {
			if s.iter > 1 && step.N > 0 && step.LogLik > -1e-6*float64(step.N) {
				// Every row fitted perfectly: the weights underflowed.
				return false, fmt.Errorf("%w (complete: the outcome is perfectly predicted)", ErrSeparation)
			}
			if s.opts.Names != nil {
				se.Name = s.opts.Names[se.Index]
			}
		}
		return false, err
	}
	delta := make([]float64, s.p)
	converged := true
	for j := range delta {
		delta[j] = next[j] - s.beta[j]
		if math.Abs(delta[j]) > s.opts.Tol*max(1, math.Abs(s.beta[j])) {
			converged = false
		}
	}
	if !converged && s.opts.Resolution > 0 && s.iter > 1 {
		converged = s.withinResolution(step, delta)
	}
	if converged {
		s.done, s.final, s.at = true, next, step
		return true, nil
	}
	if s.deltas = append(s.deltas, delta); len(s.deltas) > separationWindow {
		s.deltas = s.deltas[1:]
	}
	if s.iter >= s.opts.MaxIter {
		return false, s.diagnose(next)
	}
	s.prev, s.prevLL, s.beta, s.halvings = s.beta, step.LogLik, next, 0
	return false, nil
}

// diagnose explains a failure to converge: coefficients that grew in the
// same direction by a sizeable amount at every recent step, and are already
// large, are running off to infinity — the signature of separation.
func (s *Solver) diagnose(beta []float64) error {
	var diverging []string
	if len(s.deltas) == separationWindow {
		for j := range s.p {
			sign := math.Copysign(1, s.deltas[0][j])
			same := true
			for _, d := range s.deltas {
				if math.Copysign(1, d[j]) != sign || math.Abs(d[j]) < 0.1 {
					same = false
				}
			}
			if same && math.Abs(beta[j]) > 5 {
				diverging = append(diverging, s.name(j))
			}
		}
	}
	if len(diverging) > 0 {
		return fmt.Errorf("%w: the coefficients of %s grow without bound (the outcome is perfectly predicted in part of the data)", ErrSeparation, strings.Join(diverging, ", "))
	}
	return fmt.Errorf("%w within %d iterations", ErrNotConverged, s.opts.MaxIter)
}

func (s *Solver) name(j int) string {
	if s.opts.Names != nil {
		return fmt.Sprintf("%q", s.opts.Names[j])
	}
	return fmt.Sprintf("coefficient %d", j)
}

// Result is the converged estimates and the combined step computed at the
// last point (whose information matrix gives the standard errors). It
// returns nil before Observe has reported done.
func (s *Solver) Result() (beta []float64, at *NewtonStep) {
	if !s.done {
		return nil, nil
	}
	return slices.Clone(s.final), &s.at
}

// SetResolution changes the score's resolution for the steps observed
// from now on (a pooled study's sums have as many sites' rounding in them
// as sites took part in them).
func (s *Solver) SetResolution(r float64) {
	if r >= 0 && !math.IsInf(r, 0) {
		s.opts.Resolution = r
	}
}

// withinResolution says whether every coefficient's update is within what
// the rounding of the score alone could cause: |Δβ_j| ≤ 4·Σ_k |I⁻¹_jk|·r,
// r the score's resolution (the factor 4 leaves room for the rounding of
// the information matrix).
func (s *Solver) withinResolution(step NewtonStep, delta []float64) bool {
	cov, err := Covariance(step)
	if err != nil {
		return false
	}
	for j, d := range delta {
		var bound float64
		for k := range delta {
			bound += math.Abs(cov.At(j, k))
		}
		if math.Abs(d) > 4*bound*s.opts.Resolution {
			return false
		}
	}
	return true
}
