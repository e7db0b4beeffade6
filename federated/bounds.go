package federated

import (
	"fmt"
	"math/bits"

	"github.com/medchain/medchain/zk"
)

// Phases of a study iteration. A "step" carries the Newton step of the
// current coefficients (log-likelihood, score, information); once the
// replayed solver has converged, a "final" iteration carries the cohort's
// size and events. Counts are summed once, at the end, so that no two
// completed sums over different sets of sites are of the same count (a
// dropout would otherwise let anyone subtract them).
const (
	PhaseStep  = "step"
	PhaseFinal = "final"
)

// Phases lists them.
var Phases = []string{PhaseStep, PhaseFinal}

// FracBits is the fixed-point resolution of step contributions (2⁻³⁰): the
// log-likelihood of a sum of steps must be exact to well below the solver's
// relative convergence test.
const FracBits = 30

// MaxSites bounds the participants of a study: every value of a
// contribution is below Limit, so a sum of MaxSites contributions cannot
// leave int64.
const MaxSites = 64

// Limit is the largest magnitude of an encoded step value: 2⁶³⁻³⁰/64 real
// units, 2⁵⁷ in fixed point.
const Limit = int64(1) << (63 - 6)

// MaxAbsUnit is the unit of Spec.MaxAbs: 2⁻¹⁰ of a feature's unit.
const MaxAbsUnit = 10

// MaxColumns bounds a study's design (intercept included): a step of p
// columns has 3+p+p(p+1)/2 values, each with a 32-byte commitment, and must
// fit one transaction.
const MaxColumns = 24

// Spec is what a pooled study declares when it is submitted, and what the
// ledger derives every contribution's bounds from (integers only: the
// ledger runs no floating point).
type Spec struct {
	// Columns is the number of coefficients, intercept included.
	Columns uint32 `json:"columns"`
	// MaxAbs bounds |x| of each design column (the intercept's is 1), in
	// units of 2⁻¹⁰, in the design's order. A site whose rows exceed a bound
	// refuses the study rather than contribute.
	MaxAbs []uint64 `json:"max_abs"`
	// Link is the model's link: "logit" or "cloglog".
	Link string `json:"link"`
	// Private makes the study differentially private: features scaled to
	// [−1, 1] by public bounds (MaxAbs is then 1 for every column), a fixed
	// number of Newton rounds, and every site adding discrete Laplace noise
	// to its own contribution before masking it (distributed DP-IRLS).
	Private *PrivateSpec `json:"private,omitempty"`
	// Bins is the number of fixed predicted-risk bins of the pooled
	// diagnostics (AUC and calibration, from per-bin counts of events and
	// non-events and sums of predicted risk that the sites add to their
	// final contribution with noise); 0 = none.
	Bins uint32 `json:"bins,omitempty"`
	// Cox makes the study a Cox proportional-hazards model (Link "cox"):
	// a step is then every site's risk-set sums on the public time grid
	// (analysis.CoxGridSums), Columns counts the design's columns (there
	// is no intercept) and MaxAbs bounds each.
	Cox *CoxSpec `json:"cox,omitempty"`
	// Trees makes the study a boosted-trees model (Link "trees"): a step
	// is then one tree node's histogram (trees.go), Columns counts the
	// features and MaxAbs bounds each (unused by the bounds).
	Trees *TreesSpec `json:"trees,omitempty"`
}

// LinkCox is the Link of a Cox study.
const LinkCox = "cox"

// CoxSpec is the public part of a pooled Cox model.
type CoxSpec struct {
	// Grid is the requester's time grid in millionths of the time
	// column's unit (integers: the ledger runs no floating point),
	// strictly increasing and positive.
	Grid []uint64 `json:"grid"`
	// Ties is "efron" or "breslow".
	Ties string `json:"ties"`
	// Center is where each design column is centred, in 2⁻¹⁰ units (the
	// midpoint of its declared range; MaxAbs then bounds |x − center|),
	// so that exp(x'β) stays far from the fixed point's resolution.
	Center []int64 `json:"center"`
}

// MaxCoxGrid bounds a Cox study's grid.
const MaxCoxGrid = 200

// CoxStepLen is the length of a Cox study's step contribution for p
// columns and k grid points — the layout of analysis.CoxGridSums: N and
// events (zero in a step), Σx over the events, then per grid point the
// events, the risk set's Σw, Σw·x, Σw·x·x' (packed) and the events' Σw,
// Σw·x, Σw·x·x'.
func CoxStepLen(p, k int) int { return 2 + p + k*coxBlock(p) }

func coxBlock(p int) int { return 1 + 2*(1+p+p*(p+1)/2) }

// MaxBins bounds Spec.Bins.
const MaxBins = 20

// MuUnits is the L1 sensitivity, in grid units, of the per-bin sums of
// predicted risk: one row adds at most 1 to one bin (plus rounding).
func (s Spec) MuUnits() uint64 { return 1<<GridBits + 2*uint64(s.Bins) }

// HistogramShare is the epsilon (milli) of each of the two noisy parts of
// a site's histogram (counts; risk sums): half the site's epsilon in an
// exact study (whose regression spends none), one share in a private one.
func (s Spec) HistogramShare(epsMilli uint64) uint64 {
	if s.Private != nil {
		return epsMilli / s.NoiseShares()
	}
	return s.CountShare(epsMilli)
}

// CountShare is the epsilon (milli) of a site's noisy N and events in an
// exact study: its epsilon split over the counts and, with diagnostics,
// the histogram's two parts. (A private study gives N and events a share
// each: NoiseShares.) The pooled counts are public, so they are noisy even
// when the coefficients are exact.
func (s Spec) CountShare(epsMilli uint64) uint64 {
	if s.Bins > 0 {
		return epsMilli / 3
	}
	return epsMilli
}

// CountUnits is the L1 sensitivity of the (N, events) pair in an exact
// study, where both share one epsilon: a row moves each by at most 1.
const CountUnits = 2

// PrivateSpec configures a differentially private study.
type PrivateSpec struct {
	// Rounds is the fixed number of Newton rounds (1 to 50): a private fit
	// cannot stop on a convergence test without spending epsilon on it.
	Rounds uint32 `json:"rounds"`
}

// NoiseShares is how many noisy quantities a site of a private study
// releases: a score and an information matrix per round, N and events.
// Its epsilon is split evenly over them.
func (s Spec) NoiseShares() uint64 {
	n := 2*uint64(s.Private.Rounds) + 2
	if s.Bins > 0 {
		n += 2
	}
	return n
}

// GridBits is the resolution noisy values are rounded to before noise is
// added (2⁻¹⁰, outputctl's grid).
const GridBits = 10

// GradientUnits and HessianUnits are the L1 sensitivities of a site's
// score and packed information in grid units, with two units per value for
// rounding, exactly as outputctl's noisy reals compute them: one row moves
// each of p score entries by at most 1 and each of p(p+1)/2 information
// entries by at most ¼ (features in [−1, 1], logit).
func GradientUnits(p int) uint64 { return uint64(p)<<GridBits + 2*uint64(p) }

// HessianUnits: see GradientUnits.
func HessianUnits(p int) uint64 {
	packed := uint64(p * (p + 1) / 2)
	return packed<<(GridBits-2) + 2*packed
}

// MarginTails is how many noise scales a site's noise may reach before it
// is clipped: the chance that discrete Laplace noise exceeds it is
// e⁻⁴⁸ ≈ 10⁻²¹ per value, so clipping changes the mechanism only by that
// δ, and the ledger can bound a noisy contribution.
const MarginTails = 48

// NoiseMargin is the clip of noise of L1 sensitivity units at an epsilon
// of shareMilli (in the units' grid).
func NoiseMargin(units, shareMilli uint64) uint64 {
	if shareMilli == 0 {
		return 0
	}
	return (MarginTails*1000*units + shareMilli - 1) / shareMilli
}

// Validate checks a spec's shape.
func (s Spec) Validate() error {
	if s.Columns < 1 || s.Columns > MaxColumns {
		return fmt.Errorf("study.columns: %d, want 1 to %d", s.Columns, MaxColumns)
	}
	if len(s.MaxAbs) != int(s.Columns) {
		return fmt.Errorf("study.max_abs: %d bounds for %d columns", len(s.MaxAbs), s.Columns)
	}
	for j, m := range s.MaxAbs {
		if m == 0 || m > 1<<40 {
			return fmt.Errorf("study.max_abs[%d]: %d, want 1 to 2^40", j, m)
		}
	}
	if s.Link != "logit" && s.Link != "cloglog" && s.Link != LinkCox && s.Link != LinkTrees {
		return fmt.Errorf("study.link: %q, want logit, cloglog, cox or trees", s.Link)
	}
	if (s.Link == LinkTrees) != (s.Trees != nil) {
		return fmt.Errorf("study.trees: given with link %q (a trees study has link trees and a trees spec)", s.Link)
	}
	if s.Trees != nil {
		if err := s.Trees.validate(int(s.Columns)); err != nil {
			return err
		}
		if s.Private != nil || s.Cox != nil {
			return fmt.Errorf("study: a trees study has no private fit and no Cox spec")
		}
	}
	if (s.Link == LinkCox) != (s.Cox != nil) {
		return fmt.Errorf("study.cox: given with link %q (a Cox study has link cox and a cox spec)", s.Link)
	}
	if s.Cox != nil {
		if err := s.Cox.validate(int(s.Columns)); err != nil {
			return err
		}
		if s.Private != nil || s.Bins != 0 {
			return fmt.Errorf("study: a Cox study has no private fit and no risk bins")
		}
	}
	if s.Bins > MaxBins {
		return fmt.Errorf("study.bins: %d, at most %d", s.Bins, MaxBins)
	}
	if s.Private != nil {
		if s.Private.Rounds < 1 || s.Private.Rounds > 50 {
			return fmt.Errorf("study.private.rounds: %d, want 1 to 50", s.Private.Rounds)
		}
		if s.Link != "logit" {
			return fmt.Errorf("study.link: a private study fits the logit link")
		}
		for j, m := range s.MaxAbs {
			if m != 1<<MaxAbsUnit {
				return fmt.Errorf("study.max_abs[%d]: a private study scales every column to [−1, 1]; the bound must be %d", j, 1<<MaxAbsUnit)
			}
		}
	}
	return nil
}

func (c *CoxSpec) validate(p int) error {
	if len(c.Grid) == 0 || len(c.Grid) > MaxCoxGrid {
		return fmt.Errorf("study.cox.grid: %d points, want 1 to %d", len(c.Grid), MaxCoxGrid)
	}
	for i, g := range c.Grid {
		if g == 0 || (i > 0 && g <= c.Grid[i-1]) {
			return fmt.Errorf("study.cox.grid[%d]: the grid must be positive and strictly increasing", i)
		}
	}
	if len(c.Center) != p {
		return fmt.Errorf("study.cox.center: %d centres for %d columns", len(c.Center), p)
	}
	if c.Ties != "efron" && c.Ties != "breslow" {
		return fmt.Errorf("study.cox.ties: %q, want efron or breslow", c.Ties)
	}
	// A step must fit one transaction like the largest regression step.
	if n := CoxStepLen(p, len(c.Grid)); n > StepLen(MaxColumns) {
		return fmt.Errorf("study.cox: %d columns on %d grid points make steps of %d values, at most %d: use fewer grid points or terms", p, len(c.Grid), n, StepLen(MaxColumns))
	}
	return nil
}

// StepLen is the length of a step contribution of p columns: N and events
// (always zero in a step), the log-likelihood, p score entries and the
// packed upper triangle of the information matrix — the layout of
// analysis.FixedPoint.
func StepLen(p int) int { return 3 + p + p*(p+1)/2 }

// FinalLen is the length of a final contribution: N and events, then per
// risk bin the events, the non-events and the sum of predicted risks (in
// 2⁻¹⁰ units).
func (s Spec) FinalLen() int { return 2 + 3*int(s.Bins) }

// Len is the length of a contribution of a phase.
func (s Spec) Len(phase string) int {
	if phase == PhaseFinal {
		return s.FinalLen()
	}
	if s.Cox != nil {
		return CoxStepLen(int(s.Columns), len(s.Cox.Grid))
	}
	if s.Trees != nil {
		return TreesStepLen(int(s.Columns), int(s.Trees.Bins))
	}
	return StepLen(int(s.Columns))
}

// histogramBounds are the bounds of a final contribution's histogram at an
// epsilon share: noisy counts within [−m, nMax+m], noisy risk sums within
// [−m', nMax·2¹⁰+m'].
func (s Spec) histogramBounds(nMax, share uint64) ([]zk.Interval, error) {
	if s.Bins == 0 {
		return nil, nil
	}
	if share == 0 {
		return nil, fmt.Errorf("federated: the site's epsilon is too small for the diagnostics' noise")
	}
	mc := NoiseMargin(1, share)
	mm := NoiseMargin(s.MuUnits(), share)
	out := make([]zk.Interval, 0, 3*s.Bins)
	for range 2 * s.Bins {
		out = append(out, zk.Interval{Lo: -sat(mc, 0), Hi: sat(nMax, mc)})
	}
	for range s.Bins {
		out = append(out, zk.Interval{Lo: -sat(mm, 0), Hi: sat(mulSat(nMax, 1<<GridBits), mm)})
	}
	return out, nil
}

// Bounds are the closed intervals every value of a site's contribution
// must lie in, derived from public facts only: the spec, the site's minimum
// cohort and the top of its published record band (nMin ≤ N ≤ nMax).
//
// A step's score entry j is Σᵢ (yᵢ − μᵢ)·xᵢⱼ for the logit link, so
// |score_j| ≤ nMax·max|x_j|; its information entry (j, k) is Σᵢ wᵢ·xᵢⱼ·xᵢₖ
// with 0 ≤ w ≤ ¼ (logit) or ≤ 1 (cloglog), so |I_jk| ≤ nMax·w·max|x_j|·max|x_k|
// and I_jj ≥ 0; the log-likelihood is at most 0. A cloglog score has no
// bound of this kind and is held to the fixed-point limit only. Every bound
// is widened by one for rounding and capped at the fixed-point limit.
//
// In a private study every value also carries the site's noise, clipped
// at NoiseMargin for the site's epsilon share (epsMilli is the site's
// epsilon for the job), so each bound is widened by that margin.
func (s Spec) Bounds(phase string, nMin, nMax, epsMilli uint64) ([]zk.Interval, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if nMin > nMax {
		return nil, fmt.Errorf("federated: minimum cohort %d above the record band's top %d", nMin, nMax)
	}
	if s.Private != nil {
		return s.privateBounds(phase, nMin, nMax, epsMilli)
	}
	switch phase {
	case PhaseFinal:
		share := s.CountShare(epsMilli)
		if share == 0 {
			return nil, fmt.Errorf("federated: the site's epsilon is too small for the counts' noise")
		}
		m := NoiseMargin(CountUnits, share)
		h, err := s.histogramBounds(nMax, s.HistogramShare(epsMilli))
		if err != nil {
			return nil, err
		}
		return append([]zk.Interval{{Lo: int64(nMin) - sat(m, 0), Hi: sat(nMax, m)}, {Lo: -sat(m, 0), Hi: sat(nMax, m)}}, h...), nil
	case PhaseStep:
	default:
		return nil, fmt.Errorf("federated: phase %q, want step or final", phase)
	}
	if s.Cox != nil {
		return s.coxBounds(nMax), nil
	}
	if s.Trees != nil {
		return s.treesBounds(nMax), nil
	}
	p := int(s.Columns)
	out := make([]zk.Interval, 0, StepLen(p))
	out = append(out, zk.Interval{}, zk.Interval{}, zk.Interval{Lo: -(Limit - 1), Hi: 0})
	for j := range p {
		if s.Link != "logit" {
			out = append(out, zk.Interval{Lo: -(Limit - 1), Hi: Limit - 1})
			continue
		}
		// nMax · MaxAbs_j (2⁻¹⁰ units) in 2⁻³⁰ units.
		b := mulSat(mulSat(nMax, s.MaxAbs[j]), 1<<(FracBits-MaxAbsUnit))
		h := sat(b, 1)
		out = append(out, zk.Interval{Lo: -h, Hi: h})
	}
	// w ≤ ¼ is 2⁻² of the 2⁻²⁰ left after the two 2⁻¹⁰ units: shift by 8;
	// w ≤ 1 shifts by 10.
	shift := uint64(1) << (FracBits - 2*MaxAbsUnit)
	if s.Link == "logit" {
		shift >>= 2
	}
	for j := range p {
		for k := j; k < p; k++ {
			b := mulSat(mulSat(mulSat(nMax, s.MaxAbs[j]), s.MaxAbs[k]), shift)
			h := sat(b, 1)
			lo := -h
			if j == k {
				lo = 0
			}
			out = append(out, zk.Interval{Lo: lo, Hi: h})
		}
	}
	return out, nil
}

// mulSat multiplies, saturating at 2⁶⁴−1.
func mulSat(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return ^uint64(0)
	}
	return lo
}

// sat is min(v + slack, Limit − 1) as an int64.
func sat(v, slack uint64) int64 {
	if v >= uint64(Limit-1) || v+slack >= uint64(Limit-1) {
		return Limit - 1
	}
	return int64(v + slack)
}

// privateBounds are Bounds for a private study.
func (s Spec) privateBounds(phase string, nMin, nMax, epsMilli uint64) ([]zk.Interval, error) {
	share := epsMilli / s.NoiseShares()
	if share == 0 {
		return nil, fmt.Errorf("federated: epsilon %d milli is too small for %d noisy quantities", epsMilli, s.NoiseShares())
	}
	p := int(s.Columns)
	switch phase {
	case PhaseFinal:
		m := NoiseMargin(1, share)
		lo := int64(nMin) - sat(m, 0)
		h, err := s.histogramBounds(nMax, share)
		if err != nil {
			return nil, err
		}
		return append([]zk.Interval{{Lo: lo, Hi: sat(nMax, m)}, {Lo: -sat(m, 0), Hi: sat(nMax, m)}}, h...), nil
	case PhaseStep:
	default:
		return nil, fmt.Errorf("federated: phase %q, want step or final", phase)
	}
	// Noise and values in 2⁻³⁰ units: the grid is 2⁻¹⁰, so ×2²⁰, plus one
	// grid step for rounding.
	const toFixed = 1 << (FracBits - GridBits)
	mg := mulSat(NoiseMargin(GradientUnits(p), share)+1, toFixed)
	mh := mulSat(NoiseMargin(HessianUnits(p), share)+1, toFixed)
	out := make([]zk.Interval, 0, StepLen(p))
	out = append(out, zk.Interval{}, zk.Interval{}, zk.Interval{})
	g := sat(mulSat(nMax, 1<<FracBits), mg)
	for range p {
		out = append(out, zk.Interval{Lo: -g, Hi: g})
	}
	h := sat(mulSat(nMax, 1<<(FracBits-2)), mh)
	for j := range p {
		for k := j; k < p; k++ {
			lo := -h
			if j == k {
				lo = -sat(mh, 0)
			}
			out = append(out, zk.Interval{Lo: lo, Hi: h})
		}
	}
	return out, nil
}

// coxBounds are a Cox step's bounds. A site computes its sums with the
// weights w = exp(x'β − m), m = Σ|β_j|·MaxAbs_j (public), so 0 < w ≤ 1
// for every row within the declared bounds: each Σw is in [0, nMax], each
// Σw·x_j within ±nMax·MaxAbs_j, each Σw·x_j·x_k within
// ±nMax·MaxAbs_j·MaxAbs_k (a diagonal one not negative), each grid point's
// events in [0, nMax] and Σx over the events within ±nMax·MaxAbs_j. N and
// events are zero in a step (they are summed once, in the final phase).
// Values are fixed point with FracBits; every bound is widened by one for
// rounding and capped at the fixed-point limit.
func (s Spec) coxBounds(nMax uint64) []zk.Interval {
	p, k := int(s.Columns), len(s.Cox.Grid)
	out := make([]zk.Interval, 0, CoxStepLen(p, k))
	out = append(out, zk.Interval{}, zk.Interval{})
	// MaxAbs is in 2⁻¹⁰ units: scale to 2⁻³⁰ by 2²⁰ (one factor) or 2¹⁰
	// (two factors).
	one := func(j int) int64 { return sat(mulSat(mulSat(nMax, s.MaxAbs[j]), 1<<(FracBits-MaxAbsUnit)), 1) }
	two := func(j, l int) int64 {
		return sat(mulSat(mulSat(mulSat(nMax, s.MaxAbs[j]), s.MaxAbs[l]), 1<<(FracBits-2*MaxAbsUnit)), 1)
	}
	count := sat(mulSat(nMax, 1<<FracBits), 1)
	for j := range p {
		out = append(out, zk.Interval{Lo: -one(j), Hi: one(j)})
	}
	sums := func() {
		out = append(out, zk.Interval{Lo: 0, Hi: count})
		for j := range p {
			out = append(out, zk.Interval{Lo: -one(j), Hi: one(j)})
		}
		for j := range p {
			for l := j; l < p; l++ {
				lo := -two(j, l)
				if j == l {
					lo = 0
				}
				out = append(out, zk.Interval{Lo: lo, Hi: two(j, l)})
			}
		}
	}
	for range k {
		out = append(out, zk.Interval{Lo: 0, Hi: count})
		sums()
		sums()
	}
	return out
}
