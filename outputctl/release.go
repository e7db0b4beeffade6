package outputctl

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/medchain/medchain/analysis"
)

// DefaultMinCell is the smallest positive count ever released: counts of 1
// to 10 are not.
const DefaultMinCell = 11

// ErrBelowMinCohort: the analysis ran on fewer rows than the policy's
// minimum cohort; nothing is released and no epsilon is spent.
var ErrBelowMinCohort = errors.New("cohort below the policy's minimum")

// ErrTooFewEvents: a binary-outcome regression has fewer than MinCell
// events or non-events; nothing is released and no epsilon is spent.
var ErrTooFewEvents = errors.New("too few events or non-events")

// ErrSmallGroup: a 0/1 feature of a regression has fewer than MinCell rows
// at one of its levels, so its coefficient describes a small group.
var ErrSmallGroup = errors.New("a binary feature has a small group")

// Policy is the output-control part of a dataset's policy.
type Policy struct {
	// MinCohort: analyses over fewer rows are refused. At least MinCell.
	MinCohort int64 `json:"min_cohort"`
	// MinCell: the smallest positive count released; 0 means
	// DefaultMinCell, and nothing below it is accepted.
	MinCell int64 `json:"min_cell,omitempty"`
	// EpsilonMilli: the epsilon one release spends, in milli-units. Zero
	// releases exact statistics under the threshold rules alone, which do
	// not stop two overlapping queries from being differenced; the ledger
	// requires a positive epsilon for every dataset.
	EpsilonMilli uint64 `json:"epsilon_milli"`
	// ExactRegression lets regression results out without noise, under the
	// regression threshold rules, even when EpsilonMilli is positive (the
	// "safe statistics" treatment of model coefficients). Without it a
	// differentially private policy refuses regressions.
	ExactRegression bool `json:"exact_regression,omitempty"`
}

func (p Policy) minCell() int64 {
	if p.MinCell == 0 {
		return DefaultMinCell
	}
	return p.MinCell
}

// Validate checks the policy.
func (p Policy) Validate() error {
	if p.MinCell != 0 && p.MinCell < DefaultMinCell {
		return fmt.Errorf("outputctl: min_cell %d is below %d: counts of 1–10 are never released", p.MinCell, DefaultMinCell)
	}
	if p.MinCohort < p.minCell() {
		return fmt.Errorf("outputctl: min_cohort %d is below the minimum cell size %d", p.MinCohort, p.minCell())
	}
	if p.EpsilonMilli > maxScaleNum {
		return fmt.Errorf("outputctl: epsilon_milli %d is out of range", p.EpsilonMilli)
	}
	return nil
}

// Releaser applies a policy to analysis results: it refuses results over
// too few rows, adds differentially private noise charged to the budget,
// and withholds small counts. Its outputs are what may leave the worker.
type Releaser struct {
	Policy Policy
	Budget *Budget // the dataset's remaining epsilon; needed when Policy.EpsilonMilli > 0
	Noise  Source  // randomness for the noise; needed when Policy.EpsilonMilli > 0
}

func (r *Releaser) private() bool { return r.Policy.EpsilonMilli > 0 }

// admit applies the minimum-cohort rule to n and charges the release's
// epsilon, in that order: a refused release costs nothing.
func (r *Releaser) admit(n int64) (spent uint64, err error) {
	if err := r.Policy.Validate(); err != nil {
		return 0, err
	}
	if n < r.Policy.MinCohort {
		return 0, fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if !r.private() {
		return 0, nil
	}
	if r.Budget == nil || r.Noise == nil {
		return 0, fmt.Errorf("outputctl: a differentially private release needs a budget and a noise source")
	}
	if err := r.Budget.Charge(r.Policy.EpsilonMilli); err != nil {
		return 0, err
	}
	return r.Policy.EpsilonMilli, nil
}

// noisy adds discrete Laplace noise for an integer statistic of
// sensitivity sens (in its own units) at the given epsilon.
func (r *Releaser) noisy(v int64, sens uint64, epsMilli uint64) (int64, error) {
	z, err := DiscreteLaplace(r.Noise, epsMilli, 1000*sens)
	if err != nil {
		return 0, err
	}
	return v + z, nil
}

// Cell is one released count: Count is null when Suppressed.
type Cell struct {
	Count      *int64 `json:"count"`
	Suppressed bool   `json:"suppressed,omitempty"`
}

func released(v int64) Cell { return Cell{Count: &v} }
func withheld() Cell        { return Cell{Suppressed: true} }
func cell(v int64, s bool) Cell {
	if s {
		return withheld()
	}
	return released(v)
}

// CountRelease is a released cohort count.
type CountRelease struct {
	N                 Cell   `json:"n"`
	Noisy             bool   `json:"noisy"`
	EpsilonSpentMilli uint64 `json:"epsilon_spent_milli"`
}

// ReleaseCount releases a cohort count: refused below the minimum cohort;
// with epsilon, the count plus discrete Laplace noise (sensitivity 1),
// floored at 0 and withheld if it lands in 1…MinCell−1.
func (r *Releaser) ReleaseCount(c analysis.CountResult) (CountRelease, error) {
	spent, err := r.admit(c.N)
	if err != nil {
		return CountRelease{}, err
	}
	n := c.N
	if r.private() {
		if n, err = r.noisy(n, 1, spent); err != nil {
			return CountRelease{}, err
		}
		n = max(n, 0)
	}
	small := n >= 1 && n < r.Policy.minCell()
	return CountRelease{N: cell(n, small), Noisy: r.private(), EpsilonSpentMilli: spent}, nil
}

// CrossTabRelease is a released table of counts with its margins.
type CrossTabRelease struct {
	RowColumn         string   `json:"row_column"`
	RowLabels         []string `json:"row_labels"`
	ColColumn         string   `json:"col_column,omitempty"`
	ColLabels         []string `json:"col_labels"`
	Cells             [][]Cell `json:"cells"`
	RowTotals         []Cell   `json:"row_totals"`
	ColTotals         []Cell   `json:"col_totals"`
	Total             Cell     `json:"total"`
	Noisy             bool     `json:"noisy"`
	EpsilonSpentMilli uint64   `json:"epsilon_spent_milli"`
}

// ReleaseCrossTab releases a table. It is refused when the table's total is
// below the minimum cohort. With epsilon, every cell gets discrete Laplace
// noise at the whole epsilon — one patient is in at most one cell, so the
// cells compose in parallel — negative cells become 0 and the margins are
// the sums of the noisy cells, so the released table adds up. Suppress then
// withholds small counts and whatever would reveal them, judged on the
// released (noisy) numbers: that is post-processing and costs no epsilon.
func (r *Releaser) ReleaseCrossTab(ct analysis.CrossTab) (CrossTabRelease, error) {
	spent, err := r.admit(ct.Total)
	if err != nil {
		return CrossTabRelease{}, err
	}
	counts := make([][]int64, len(ct.Counts))
	for i, row := range ct.Counts {
		counts[i] = make([]int64, len(row))
		for j, v := range row {
			if r.private() {
				if v, err = r.noisy(v, 1, spent); err != nil {
					return CrossTabRelease{}, err
				}
			}
			counts[i][j] = max(v, 0)
		}
	}
	p, err := Suppress(counts, r.Policy.minCell())
	if err != nil {
		return CrossTabRelease{}, err
	}
	rows, cols, total := analysis.Margins(counts)
	out := CrossTabRelease{
		RowColumn: ct.RowColumn, RowLabels: ct.RowLabels, ColColumn: ct.ColColumn, ColLabels: ct.ColLabels,
		Cells: make([][]Cell, len(counts)), RowTotals: make([]Cell, len(rows)), ColTotals: make([]Cell, len(cols)),
		Total: cell(total, p.Total), Noisy: r.private(), EpsilonSpentMilli: spent,
	}
	for i, row := range counts {
		out.Cells[i] = make([]Cell, len(row))
		for j, v := range row {
			out.Cells[i][j] = cell(v, p.Cells[i][j])
		}
		out.RowTotals[i] = cell(rows[i], p.RowTotals[i])
	}
	for j, v := range cols {
		out.ColTotals[j] = cell(v, p.ColTotals[j])
	}
	return out, nil
}

// Value is a released statistic: Value is null when Suppressed.
type Value struct {
	Value      *float64 `json:"value"`
	Suppressed bool     `json:"suppressed,omitempty"`
}

func value(v float64, suppressed bool) Value {
	if suppressed {
		return Value{Suppressed: true}
	}
	return Value{Value: &v}
}

// QuantileRelease is a released quantile: Value is null when Suppressed.
type QuantileRelease struct {
	P          float64  `json:"p"`
	Value      *float64 `json:"value"`
	Suppressed bool     `json:"suppressed,omitempty"`
}

func quantile(p, v float64, suppressed bool) QuantileRelease {
	x := value(v, suppressed)
	return QuantileRelease{P: p, Value: x.Value, Suppressed: x.Suppressed}
}

// SummaryRelease is one variable's released summary. Suppressed withholds
// the whole variable (fewer non-null values than the minimum cohort).
type SummaryRelease struct {
	Column     string            `json:"column"`
	N          Cell              `json:"n"`
	Mean       Value             `json:"mean"`
	SD         Value             `json:"sd"`
	Quantiles  []QuantileRelease `json:"quantiles"`
	Suppressed bool              `json:"suppressed,omitempty"`
}

// DescriptionRelease is a released set of summaries.
type DescriptionRelease struct {
	N                 Cell             `json:"n"`
	Variables         []SummaryRelease `json:"variables"`
	Noisy             bool             `json:"noisy"`
	EpsilonSpentMilli uint64           `json:"epsilon_spent_milli"`
}

// ErrNeedsBounds: a differentially private summary needs clamping bounds
// for every variable.
var ErrNeedsBounds = errors.New("differentially private summaries need bounds for every variable")

// ReleaseDescription releases descriptive statistics. The cohort must
// reach the minimum cohort; a variable with fewer non-null values than
// that is withheld.
//
// Without epsilon the exact N, mean and SD are released, and a quantile q_p
// only when min(p, 1−p)·N ≥ MinCell (at least MinCell values on each side of
// it, so it is not close to an identifiable extreme value).
//
// With epsilon every variable needs bounds, and the epsilon is split evenly
// between the cohort size and, per variable, N, the sum, the sum of squares
// and each quantile (1 + 8 shares per variable; sequential composition,
// rounded down to whole milli-units). From the variable's BoundedSummary
// (values clamped to the bounds and rounded to a grid of GridSteps steps):
// N, Σq and Σq² get discrete Laplace noise with sensitivities 1, GridSteps/2
// and (GridSteps/2)²; mean and SD are computed from the noisy sums and
// clamped to what the bounds allow; each quantile is chosen among the grid
// points by the permute-and-flip mechanism (McKenna & Sheldon 2020), with
// utility −|100·#{q ≤ k} − 100p·N| of sensitivity 100, drawn with exact
// integer Bernoulli(exp(−γ)) trials. Every number released is a
// deterministic function of integers drawn exactly, so there is no
// floating-point side channel.
//
// In both modes a variable's N is withheld when the cohort size minus it —
// the number of missing values — is a small count.
func (r *Releaser) ReleaseDescription(d analysis.Description) (DescriptionRelease, error) {
	var share uint64
	if r.private() {
		for i, v := range d.Variables {
			if v.Bounded == nil {
				return DescriptionRelease{}, fmt.Errorf("variables[%d] (%q): %w", i, v.Column, ErrNeedsBounds)
			}
		}
		shares := uint64(1 + 8*len(d.Variables))
		if share = r.Policy.EpsilonMilli / shares; share == 0 {
			return DescriptionRelease{}, fmt.Errorf("outputctl: epsilon %d milli is too small for %d statistics (1 milli each at least)", r.Policy.EpsilonMilli, shares)
		}
	}
	spent, err := r.admit(d.N)
	if err != nil {
		return DescriptionRelease{}, err
	}
	out := DescriptionRelease{Noisy: r.private(), EpsilonSpentMilli: spent}
	minCell := r.Policy.minCell()
	n := d.N
	if r.private() {
		if n, err = r.noisy(n, 1, share); err != nil {
			return DescriptionRelease{}, err
		}
		n = max(n, 0)
	}
	out.N = cell(n, n >= 1 && n < minCell)
	for _, v := range d.Variables {
		var s SummaryRelease
		if r.private() {
			s, err = r.privateSummary(v, share)
		} else {
			s = r.exactSummary(v)
		}
		if err != nil {
			return DescriptionRelease{}, err
		}
		if s.N.Count != nil && out.N.Count != nil {
			if missing := *out.N.Count - *s.N.Count; missing >= 1 && missing < minCell {
				s.N = withheld()
			}
		}
		out.Variables = append(out.Variables, s)
	}
	return out, nil
}

func (r *Releaser) exactSummary(v analysis.Summary) SummaryRelease {
	s := SummaryRelease{Column: v.Column}
	if v.N < r.Policy.MinCohort {
		return withheldSummary(v.Column)
	}
	s.N, s.Mean, s.SD = released(v.N), value(v.Mean, false), value(v.SD, false)
	for _, q := range v.Quantiles {
		ok := math.Min(q.P, 1-q.P)*float64(v.N) >= float64(r.Policy.minCell())
		s.Quantiles = append(s.Quantiles, quantile(q.P, q.Value, !ok))
	}
	return s
}

func withheldSummary(column string) SummaryRelease {
	s := SummaryRelease{Column: column, N: withheld(), Mean: value(0, true), SD: value(0, true), Suppressed: true}
	for _, p := range analysis.QuantileProbs {
		s.Quantiles = append(s.Quantiles, quantile(p, 0, true))
	}
	return s
}

func (r *Releaser) privateSummary(v analysis.Summary, share uint64) (SummaryRelease, error) {
	if v.N < r.Policy.MinCohort {
		return withheldSummary(v.Column), nil
	}
	b := v.Bounded
	const half = analysis.GridSteps / 2
	n, err := r.noisy(b.N, 1, share)
	if err != nil {
		return SummaryRelease{}, err
	}
	sum, err := r.noisy(b.Sum, half, share)
	if err != nil {
		return SummaryRelease{}, err
	}
	sumSq, err := r.noisy(b.SumSq, half*half, share)
	if err != nil {
		return SummaryRelease{}, err
	}
	s := SummaryRelease{Column: v.Column}
	n = max(n, 0)
	s.N = cell(n, n >= 1 && n < r.Policy.minCell())
	// Mean and SD on the grid's scale, then in the variable's units.
	nn := float64(max(n, 1))
	meanQ := min(max(float64(sum)/nn, -half), half)
	varQ := 0.0
	if n > 1 {
		varQ = (float64(sumSq) - float64(sum)*float64(sum)/nn) / (nn - 1)
	}
	sdQ := min(math.Sqrt(max(varQ, 0)), half)
	s.Mean = value(b.Bounds.Value(meanQ), false)
	s.SD = value(sdQ*b.Bounds.Step(), false)
	cum := make([]int64, len(b.Counts))
	var c int64
	for k, x := range b.Counts {
		c += x
		cum[k] = c
	}
	for _, p := range analysis.QuantileProbs {
		k, err := permuteAndFlipQuantile(r.Noise, cum, b.N, int64(math.Round(p*100)), share)
		if err != nil {
			return SummaryRelease{}, err
		}
		s.Quantiles = append(s.Quantiles, quantile(p, b.Bounds.Value(float64(k-half)), false))
	}
	return s, nil
}

// permuteAndFlipQuantile picks a grid index for the pct-th percentile from
// cumulative counts cum (cum[k] = #values at grid index ≤ k) of n values.
// Candidate k has utility u_k = −|100·cum[k] − pct·n|, sensitivity 100;
// candidates are visited in a uniformly random order and each accepted with
// probability exp(ε(u_k − u*)/(2·100)), u* the best utility, which is
// ε-differentially private and never worse than the exponential mechanism.
func permuteAndFlipQuantile(src Source, cum []int64, n, pct int64, epsMilli uint64) (int, error) {
	const sens = 100
	util := make([]int64, len(cum))
	best := int64(math.MinInt64)
	for k, c := range cum {
		d := 100*c - pct*n
		if d < 0 {
			d = -d
		}
		util[k] = -d
		best = max(best, util[k])
	}
	order := make([]int, len(cum))
	for i := range order {
		order[i] = i
	}
	for i := len(order) - 1; i > 0; i-- {
		j := int(uniform(src, uint64(i+1)))
		order[i], order[j] = order[j], order[i]
	}
	for _, k := range order {
		gap := uint64(best - util[k]) // ≥ 0
		if gap == 0 {
			return k, nil
		}
		// Accept with probability exp(−(ε/1000)·gap/(2·sens)). When
		// gap·ε overflows, that probability is below exp(−2·10¹³): reject.
		hi, num := bits.Mul64(gap, epsMilli)
		if hi == 0 && num < 1<<63 && bernoulliExp(src, num, 2000*sens) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("outputctl: permute-and-flip found no candidate") // the best one always accepts
}
