package outputctl

import (
	"fmt"
	"sort"

	"github.com/medchain/medchain/analysis"
)

// SurvivalResult is what a survival job computed: its grid, the
// follow-up counts of each group on it, and (if asked for) the log-rank
// test and the Cox model.
type SurvivalResult struct {
	Grid    []float64
	Counts  []analysis.GridCounts
	LogRank *analysis.LogRank
	// LogRankWithheld: there were groups, but no test was computed (a
	// group had fewer rows than the minimum cohort).
	LogRankWithheld bool
	Cox             *analysis.CoxFit
}

// SurvivalRelease is a released survival analysis.
type SurvivalRelease struct {
	Grid   []float64      `json:"grid"`
	Curves []CurveRelease `json:"curves"`
	// LogRank and Cox are the exact test and model ("safe statistics",
	// like an exact regression); LogRankWithheld says a log-rank test was
	// computable but the policy releases only noisy counts.
	LogRank           *analysis.LogRank `json:"log_rank,omitempty"`
	LogRankWithheld   bool              `json:"log_rank_withheld,omitempty"`
	Cox               *analysis.CoxFit  `json:"cox,omitempty"`
	Noisy             bool              `json:"noisy"`
	EpsilonSpentMilli uint64            `json:"epsilon_spent_milli"`
}

// CurveRelease is one group's released Kaplan–Meier curve: points at some
// of the grid's times, each the end of an interval that starts at the
// previous point (or at 0). Withheld: the group has fewer rows than the
// minimum cohort and no curve. Truncated: the curve stops before the
// grid's last point because the risk set fell below the minimum cohort.
type CurveRelease struct {
	Group     string       `json:"group"`
	Points    []CurvePoint `json:"points"`
	Withheld  bool         `json:"withheld,omitempty"`
	Truncated bool         `json:"truncated,omitempty"`
	Merged    []float64    `json:"merged,omitempty"` // grid times folded into the next point
}

// CurvePoint is a released point: at risk at the start of the interval
// ending at Time, events and censorings in it (NCensor null at the last
// point, where it would tell how many are still followed), and the
// survival at Time with its log-scale 95% interval.
type CurvePoint struct {
	Time    float64 `json:"time"`
	NRisk   int64   `json:"n_risk"`
	NEvent  int64   `json:"n_event"`
	NCensor *int64  `json:"n_censor"`
	Surv    float64 `json:"surv"`
	Lower   float64 `json:"lower"`
	Upper   float64 `json:"upper"`
}

// ReleaseSurvival releases a survival analysis. The rules, in order:
//
//   - A Cox model or a log-rank test is released exactly, as the safe
//     statistics an exact regression is, so only when the policy has no
//     epsilon or sets ExactRegression (a Cox model is refused otherwise,
//     ErrNoPrivateRegression). A Cox model needs the regression rules —
//     N ≥ MinCohort, N − p ≥ MinCell, events and censorings each ≥
//     MinCell, every 0/1 column ≥ MinCell rows at 0 and at 1. A log-rank
//     test needs every group ≥ MinCohort rows and ≥ MinCell events;
//     otherwise, or without exact release, it is left out and marked
//     withheld (the curves are still released).
//   - The cohort must reach MinCohort (then the epsilon is charged).
//   - The curves are released on the requester's grid, never at the
//     data's own times (which would date individual events). With an
//     epsilon every count of the grid histogram — events and censorings
//     per interval and group, and those followed beyond the grid; one
//     person is in exactly one cell, so the histogram has sensitivity 1 —
//     gets discrete Laplace noise, and the curve is computed from the
//     noisy counts (post-processing). Then each curve is walked along the
//     grid: a point is released only where the interval's events and
//     censorings are each 0 or ≥ MinCell; otherwise the interval is
//     merged into the next (the point withheld, listed in Merged), so the
//     released curve is the Kaplan–Meier curve of times coarsened to the
//     released points. Every released risk set is ≥ MinCohort: the curve
//     stops at the first point after which fewer than MinCohort are
//     followed (Truncated). At that last point the censorings are not
//     released, and the point itself only if at risk − events is 0 or ≥
//     MinCell — otherwise the number still followed would be derivable
//     and small. So every released count, and every difference of
//     released counts along a curve, is 0 or ≥ MinCell.
//   - A group with fewer than MinCohort rows gets no curve (Withheld).
func (r *Releaser) ReleaseSurvival(res SurvivalResult) (SurvivalRelease, error) {
	if err := r.Policy.Validate(); err != nil {
		return SurvivalRelease{}, err
	}
	exact := !r.private() || r.Policy.ExactRegression
	minCell := r.Policy.minCell()
	out := SurvivalRelease{Grid: res.Grid, Noisy: r.private()}
	if res.Cox != nil {
		if !exact {
			return SurvivalRelease{}, ErrNoPrivateRegression
		}
		if err := r.coxRules(res.Cox); err != nil {
			return SurvivalRelease{}, err
		}
		out.Cox = res.Cox
	}
	out.LogRankWithheld = res.LogRankWithheld
	if lr := res.LogRank; lr != nil {
		ok := exact
		for g := range lr.Groups {
			if int64(lr.N[g]) < r.Policy.MinCohort || int64(lr.Observed[g]) < minCell {
				ok = false
			}
		}
		if ok {
			out.LogRank = lr
		} else {
			out.LogRankWithheld = true
		}
	}
	var n int64
	for i := range res.Counts {
		n += res.Counts[i].N()
	}
	spent, err := r.admit(n)
	if err != nil {
		return SurvivalRelease{}, err
	}
	out.EpsilonSpentMilli = spent
	for _, c := range res.Counts {
		if r.private() {
			if c, err = r.noisyGridCounts(c, spent); err != nil {
				return SurvivalRelease{}, err
			}
		}
		out.Curves = append(out.Curves, r.curve(c, res.Grid))
	}
	return out, nil
}

// CheckCoxRules applies the Cox release rules to a site's own counts and
// 0/1 columns before it contributes to a study.
func (r *Releaser) CheckCoxRules(c *analysis.CoxFit) error { return r.coxRules(c) }

// coxRules are ReleaseRegression's rules for a Cox model: censorings take
// the place of non-events.
func (r *Releaser) coxRules(c *analysis.CoxFit) error {
	minCell := r.Policy.minCell()
	if c.N < r.Policy.MinCohort {
		return fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if c.N-int64(len(c.Coefficients)) < minCell {
		return fmt.Errorf("%w: fewer than %d residual degrees of freedom", ErrBelowMinCohort, minCell)
	}
	if c.Events < minCell || c.N-c.Events < minCell {
		return fmt.Errorf("%w: events and censorings must each be at least %d", ErrTooFewEvents, minCell)
	}
	for _, k := range c.Coefficients {
		if k.Levels != nil && (k.Levels.Zeros < minCell || k.Levels.Ones < minCell) {
			return fmt.Errorf("%w: %q needs at least %d rows at 0 and at 1", ErrSmallGroup, k.Name, minCell)
		}
	}
	return nil
}

// CheckSurvival applies the cohort rules to a survival job's rows before
// anything is computed from them: the cohort reaches the minimum; a Cox
// model has at least MinCell events and censorings, and every level of
// each of its factors at least MinCohort rows (a regression's rule).
func (r *Releaser) CheckSurvival(s *analysis.SurvivalData, cox bool) error {
	if err := r.Policy.Validate(); err != nil {
		return err
	}
	n, events := int64(s.N()), int64(s.Events())
	if n < r.Policy.MinCohort {
		return fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if !cox {
		return nil
	}
	if c := r.Policy.minCell(); events < c || n-events < c {
		return fmt.Errorf("%w: events and censorings must each be at least %d", ErrTooFewEvents, c)
	}
	for _, lc := range s.FactorLevels {
		if int64(lc.N) < r.Policy.MinCohort {
			return fmt.Errorf("%w: level %q of factor %q has fewer than %d rows (merge it with another level, or leave it out of the levels)",
				ErrSmallGroup, lc.Level, lc.Column, r.Policy.MinCohort)
		}
	}
	// A Cox column that singles out a few rows (an interaction with a
	// rare 0/1 column) would let the fit speak for them: the regressions'
	// support rule.
	return columnSupport(s.X, s.Features, r.Policy.minCell())
}

func (r *Releaser) noisyGridCounts(c analysis.GridCounts, spent uint64) (analysis.GridCounts, error) {
	out := analysis.GridCounts{Group: c.Group, Events: make([]int64, len(c.Events)), Censored: make([]int64, len(c.Censored))}
	var err error
	noisy := func(v int64) int64 {
		if err != nil {
			return 0
		}
		var x int64
		x, err = r.noisy(v, 1, spent)
		return max(x, 0)
	}
	for k := range c.Events {
		out.Events[k] = noisy(c.Events[k])
		out.Censored[k] = noisy(c.Censored[k])
	}
	out.Beyond = noisy(c.Beyond)
	return out, err
}

// curve walks one group's counts along the grid (see ReleaseSurvival).
func (r *Releaser) curve(c analysis.GridCounts, grid []float64) CurveRelease {
	minCohort, minCell := r.Policy.MinCohort, r.Policy.minCell()
	ok := func(v int64) bool { return v == 0 || v >= minCell }
	out := CurveRelease{Group: c.Group, Points: []CurvePoint{}}
	n := c.N()
	if n < minCohort {
		out.Withheld = true
		return out
	}
	km := analysis.NewKMStepper()
	var d, cens int64 // the open interval's events and censorings
	var pending []float64
	for k, t := range grid {
		d += c.Events[k]
		cens += c.Censored[k]
		next := n - d - cens
		last := k == len(grid)-1 || next < minCohort
		if !last {
			if !ok(d) || !ok(cens) {
				pending = append(pending, t)
				continue
			}
			p := km.Step(n, d)
			cc := cens
			out.Points = append(out.Points, point(t, p, &cc))
			out.Merged = append(out.Merged, pending...)
			pending, n, d, cens = nil, next, 0, 0
			continue
		}
		// The last point: its censorings would tell how many are still
		// followed, so they stay out, and the point itself needs at risk −
		// events to be 0 or ≥ MinCell.
		emitted := ok(d) && ok(n-d)
		if emitted {
			out.Points = append(out.Points, point(t, km.Step(n, d), nil))
			out.Merged = append(out.Merged, pending...)
		}
		out.Truncated = k < len(grid)-1 || !emitted
		break
	}
	return out
}

func point(t float64, p analysis.KMPoint, censored *int64) CurvePoint {
	return CurvePoint{Time: t, NRisk: p.NRisk, NEvent: p.NEvent, NCensor: censored, Surv: p.Surv, Lower: p.Lower, Upper: p.Upper}
}

// ReleasePooledCox releases a pooled Cox model (every site of a study
// posts the same one): the Cox rules of ReleaseSurvival on the pooled
// counts and on this site's own 0/1 columns (Levels), exactly, so only
// where the policy releases exact models. A study releases no curves:
// those are per-site releases (a survival job without a study).
func (r *Releaser) ReleasePooledCox(grid []float64, fit *analysis.CoxFit) (SurvivalRelease, error) {
	if err := r.Policy.Validate(); err != nil {
		return SurvivalRelease{}, err
	}
	if r.private() && !r.Policy.ExactRegression {
		return SurvivalRelease{}, ErrNoPrivateRegression
	}
	if err := r.coxRules(fit); err != nil {
		return SurvivalRelease{}, err
	}
	return SurvivalRelease{Grid: grid, Curves: []CurveRelease{}, Cox: fit, Noisy: r.private()}, nil
}

// CheckGridCounts is what a site of a pooled Cox study checks on its own
// rows before it contributes. The study's sums are public once added, and
// at zero coefficients they are counts: per grid point the number at risk
// and the events, and so the censorings between points. A site
// contributes only if its own are safe to add — every risk set 0 or at
// least MinCohort, every interval's events and censorings and the number
// followed beyond the grid 0 or at least MinCell — so every pooled count
// is too, whichever sites take part. A finer grid than the data allows is
// refused, naming the grid, never a count. The grid is one of the public
// grids (analysis.PooledCoxGrids), so the refusal is a fixed function of
// the cohort and that grid; the worker records the cohort in its overlap
// record before this check, so that cohorts a few patients apart do not
// each get their own answer.
func (r *Releaser) CheckGridCounts(c analysis.GridCounts, grid []float64) error {
	minCell := r.Policy.minCell()
	ok := func(v int64) bool { return v == 0 || v >= minCell }
	n := c.N()
	for k := range c.Events {
		if n != 0 && n < r.Policy.MinCohort {
			return fmt.Errorf("%w: fewer than %d rows are followed to grid point %g at this site: use a coarser or shorter public grid", ErrBelowMinCohort, r.Policy.MinCohort, grid[k])
		}
		if !ok(c.Events[k]) || !ok(c.Censored[k]) {
			return fmt.Errorf("%w: the events or censorings of the grid interval ending at %g number fewer than %d at this site: use a coarser public grid", ErrSmallGroup, grid[k], minCell)
		}
		n -= c.Events[k] + c.Censored[k]
	}
	if !ok(c.Beyond) {
		return fmt.Errorf("%w: fewer than %d rows are followed beyond the grid's last point at this site: use a longer or shorter public grid", ErrSmallGroup, minCell)
	}
	return nil
}

// CheckGridSupport is the small-group rule of a pooled Cox study's sums,
// interval by interval. A round publishes, for each grid interval, sums
// over the interval's events and over its risk set of every design column
// and of every pair's product (the information matrix), and the risk
// sets of consecutive intervals differ by the rows that leave in between
// (events and censorings). So in each interval's events, in each
// interval's leavers and in the rows followed beyond the grid, every
// column and every pair's product must be non-zero on none or at least
// MinCell rows, and zero on none or at least MinCell: otherwise one
// patient's value could be read off a round's sums (the one woman among
// an interval's events gives Σ age·female = her age). CheckGridCounts
// holds the sets' sizes to the same rule, so each pooled sum is over
// none or at least MinCell rows of each site. x holds the design columns
// as the sums see them (before centring); names name them in the refusal.
func (r *Releaser) CheckGridSupport(s *analysis.SurvivalData, x [][]float64, grid []float64) error {
	minCell := r.Policy.minCell()
	p := len(x)
	// Sets: 2k = the events of interval k, 2k+1 = its leavers, 2·len(grid)
	// = the rows beyond the grid. nz[set][a*p+b] counts the rows of the
	// set where columns a ≤ b are both non-zero (a = b: column a alone).
	sets := 2*len(grid) + 1
	size := make([]int64, sets)
	nz := make([][]int64, sets)
	for i := range nz {
		nz[i] = make([]int64, p*p)
	}
	on := make([]bool, p)
	for i, t := range s.Time {
		var in []int
		switch k := sort.SearchFloat64s(grid, t); {
		case k == len(grid):
			in = []int{2 * len(grid)}
		case s.Event[i]:
			in = []int{2 * k, 2*k + 1}
		default:
			in = []int{2*k + 1}
		}
		for a := range p {
			on[a] = x[a][i] != 0
		}
		for _, set := range in {
			size[set]++
			c := nz[set]
			for a := range p {
				if !on[a] {
					continue
				}
				for b := a; b < p; b++ {
					if on[b] {
						c[a*p+b]++
					}
				}
			}
		}
	}
	small := func(v int64) bool { return v > 0 && v < minCell }
	for set := range sets {
		where := "beyond the grid's last point"
		if set < 2*len(grid) {
			what := "events"
			if set%2 == 1 {
				what = "rows leaving follow-up (events and censorings)"
			}
			where = fmt.Sprintf("among the %s of the grid interval ending at %g", what, grid[set/2])
		}
		for a := range p {
			for b := a; b < p; b++ {
				n := nz[set][a*p+b]
				if small(n) || small(size[set]-n) {
					term := fmt.Sprintf("%q", s.Features[a])
					if b != a {
						term = fmt.Sprintf("the product of %q and %q", s.Features[a], s.Features[b])
					}
					return fmt.Errorf("%w: %s is non-zero, or zero, on fewer than %d rows %s at this site: use a coarser grid or fewer, broader features", ErrSmallGroup, term, minCell, where)
				}
			}
		}
	}
	return nil
}
