package analysis

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Ties methods of a Cox model: how the partial likelihood treats events at
// the same time. Efron's is R's default and the closer approximation to the
// exact (discrete) likelihood; Breslow's treats every tied event as facing
// the whole risk set.
const (
	TiesEfron   = "efron"
	TiesBreslow = "breslow"
)

// MaxGridPoints bounds a survival job's time grid.
const MaxGridPoints = 200

// SurvivalParams describe a survival job: time to an event with right
// censoring, summarised by Kaplan–Meier curves (optionally by group, with a
// log-rank test) and, when Features are given, a Cox proportional-hazards
// model.
type SurvivalParams struct {
	// Time is the follow-up time (a number column, ≥ 0); Event the 0/1 or
	// boolean column saying whether follow-up ended with the event (1)
	// or was censored (0).
	Time  string `json:"time"`
	Event string `json:"event"`
	// Grid is the public time grid, chosen by the requester and never read
	// from the data: strictly increasing positive times. Curves are
	// released at its points only. A pooled (federated) Cox model is fitted
	// on times coarsened to it (see CoarsenTimes).
	Grid []float64 `json:"grid"`
	// Group splits the curves and is compared by the log-rank test: a
	// column (code, string, boolean or number) and its levels; rows at
	// other levels are left out.
	Group *Factor `json:"group,omitempty"`
	// Features are a Cox model's terms, written as for a regression; none
	// means curves only.
	Features []string `json:"features,omitempty"`
	Factors  []Factor `json:"factors,omitempty"`
	Ties     string   `json:"ties,omitempty"` // efron (default) or breslow
	Filter   Filter   `json:"filter,omitempty"`
	MaxIter  int      `json:"max_iter,omitempty"`
	Tol      float64  `json:"tol,omitempty"`
}

// Validate checks what can be checked without a table.
func (p *SurvivalParams) Validate() error {
	switch p.Ties {
	case "", TiesEfron, TiesBreslow:
	default:
		return paramErr("ties", "unknown ties method %q (want efron or breslow)", p.Ties)
	}
	if err := ValidateGrid(p.Grid); err != nil {
		return err
	}
	if p.Time != "" && p.Time == p.Event {
		return paramErr("event", "the event column cannot be the time column")
	}
	if p.Group != nil {
		if err := validateFactors([]Factor{*p.Group}); err != nil {
			e := err.(*ParamError)
			e.Param = "group" + e.Param[len("factors[0]"):]
			return e
		}
	}
	if err := (SolverOptions{MaxIter: p.MaxIter, Tol: p.Tol}).validate(); err != nil {
		return err
	}
	if err := p.Filter.Validate(); err != nil {
		return err
	}
	return p.validateOutcomeFilter()
}

// ValidateGrid checks a time grid: 1 to MaxGridPoints strictly increasing,
// finite, positive times.
func ValidateGrid(grid []float64) error {
	if len(grid) == 0 || len(grid) > MaxGridPoints {
		return paramErr("grid", "need 1 to %d time points, got %d", MaxGridPoints, len(grid))
	}
	for i, g := range grid {
		if !finite(g) || g <= 0 {
			return paramErr(fmt.Sprintf("grid[%d]", i), "time points must be positive and finite")
		}
		if i > 0 && g <= grid[i-1] {
			return paramErr(fmt.Sprintf("grid[%d]", i), "time points must be strictly increasing")
		}
	}
	return nil
}

func (p *SurvivalParams) ties() string {
	if p.Ties == "" {
		return TiesEfron
	}
	return p.Ties
}

// SurvivalData is the complete cases of a survival job: follow-up times,
// events, the group of each row and a Cox design's columns. It is the
// worker-internal input of KaplanMeier, LogRank and FitCox.
type SurvivalData struct {
	Time     []float64
	Event    []bool
	Group    []int    // index into Groups; nil without a group
	Groups   []string // the group's levels, as given
	Features []string // Cox design columns, named as R names them
	X        [][]float64
	// Levels counts the rows at 0 and 1 of each 0/1 design column (nil
	// for others), for the output controls' small-group rule.
	Levels []*Levels
	// FactorLevels counts the rows at each declared level of each factor.
	FactorLevels []LevelCount
	// Rows marks the table rows in the data.
	Rows []bool
}

// N is the number of rows.
func (s *SurvivalData) N() int { return len(s.Time) }

// Events is the number of events.
func (s *SurvivalData) Events() int {
	n := 0
	for _, e := range s.Event {
		if e {
			n++
		}
	}
	return n
}

// NewSurvivalData selects the table's rows kept by the filter whose time
// is not null and not negative, whose event is 0 or 1, whose group (if
// any) is one of its levels and whose features are all present.
func NewSurvivalData(t *Table, p SurvivalParams) (*SurvivalData, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tc, err := t.numeric("time", p.Time)
	if err != nil {
		return nil, err
	}
	ec, err := t.numeric("event", p.Event)
	if err != nil {
		return nil, err
	}
	for i, f := range p.Features {
		cols, err := FeatureColumns(fmt.Sprintf("features[%d]", i), f, p.Factors, func(s string) bool { _, ok := t.byName[s]; return ok })
		if err != nil {
			return nil, err
		}
		if slices.Contains(cols, p.Time) {
			return nil, paramErr(fmt.Sprintf("features[%d]", i), "%q involves the time column", f)
		}
	}
	mask, _, err := t.selectRows(p.Filter, "filter")
	if err != nil {
		return nil, err
	}
	var gc *Column
	var gv []float64
	if p.Group != nil {
		if gc, err = t.column("group.column", p.Group.Column); err != nil {
			return nil, err
		}
		if gc == tc || gc == ec {
			return nil, paramErr("group.column", "the group cannot be the time or the event column")
		}
		gv = make([]float64, len(p.Group.Levels))
		for k, l := range p.Group.Levels {
			v, ok := levelValue(gc, l)
			if !ok {
				return nil, paramErr(fmt.Sprintf("group.levels[%d]", k), "%q is not a value column %q can hold", l, gc.Name)
			}
			gv[k] = v
		}
	}
	group := func(i int) int {
		if gc == nil {
			return 0
		}
		if !gc.valid(i) {
			return -1
		}
		for k, v := range gv {
			if gc.Values[i] == v && v >= 0 {
				return k
			}
		}
		return -1
	}
	for i, keep := range mask {
		if !keep {
			continue
		}
		if !tc.valid(i) || tc.Values[i] < 0 || !ec.valid(i) || group(i) < 0 {
			mask[i] = false
			continue
		}
		if e := ec.Values[i]; e != 0 && e != 1 {
			return nil, paramErr("event", "column %q holds values other than 0 and 1", p.Event)
		}
	}
	view, err := t.Where(mask)
	if err != nil {
		return nil, err
	}
	d, err := NewFactorDesign(view, p.Event, p.Features, p.Factors, nil)
	if err != nil {
		return nil, err
	}
	s := &SurvivalData{Features: d.Features, X: d.x, FactorLevels: d.FactorLevels, Rows: d.rows, Time: gather(tc.Values, d.rows, d.n), Event: make([]bool, d.n)}
	for i, y := range d.y {
		s.Event[i] = y == 1
	}
	if gc != nil {
		s.Groups = slices.Clone(p.Group.Levels)
		s.Group = make([]int, 0, d.n)
		for i, keep := range d.rows {
			if keep {
				s.Group = append(s.Group, group(i))
			}
		}
	}
	s.Levels = make([]*Levels, len(d.x))
	for j := range d.x {
		s.Levels[j] = d.Levels(j)
	}
	return s, nil
}

// CoarsenTimes moves every time up to the grid: a time in (g[k−1], g[k]]
// becomes g[k] (a time in [0, g[0]] becomes g[0]), and a time beyond the
// last point becomes a censoring at it (an event after the grid is not
// seen within it). A model fitted on the coarsened times has at each grid
// point the risk set of those still followed at the previous point, so it
// needs from each site only sums over grid intervals (CoxGridSums).
func CoarsenTimes(time []float64, event []bool, grid []float64) ([]float64, []bool) {
	t := make([]float64, len(time))
	e := make([]bool, len(time))
	for i, x := range time {
		k := sort.SearchFloat64s(grid, x) // first grid point ≥ x
		if k == len(grid) {
			t[i], e[i] = grid[len(grid)-1], false
			continue
		}
		t[i], e[i] = grid[k], event[i]
	}
	return t, e
}

// Coarsened is s with its times coarsened to grid (CoarsenTimes); the
// design columns are shared.
func (s *SurvivalData) Coarsened(grid []float64) *SurvivalData {
	c := *s
	c.Time, c.Event = CoarsenTimes(s.Time, s.Event, grid)
	return &c
}

// KMStep is one time of a Kaplan–Meier curve at which someone had the
// event or was censored: the number at risk just before it, the events
// and censorings at it, the survival just after it, the standard error of
// the cumulative hazard (Greenwood's, as R's survfit reports std.err) and
// the 95% confidence interval on the log scale (R's default).
type KMStep struct {
	Time    float64 `json:"time"`
	NRisk   int     `json:"n_risk"`
	NEvent  int     `json:"n_event"`
	NCensor int     `json:"n_censor"`
	Surv    float64 `json:"surv"`
	StdErr  float64 `json:"std_err"`
	Lower   float64 `json:"lower"`
	Upper   float64 `json:"upper"`
}

// KMCurve is the Kaplan–Meier estimate of one group ("" without groups).
type KMCurve struct {
	Group  string   `json:"group"`
	N      int      `json:"n"`
	Events int      `json:"events"`
	Steps  []KMStep `json:"steps"`
}

// KaplanMeier estimates the survival curve of each group (one curve
// without a group), at every distinct time.
func KaplanMeier(s *SurvivalData) []KMCurve {
	groups := s.Groups
	if groups == nil {
		groups = []string{""}
	}
	out := make([]KMCurve, len(groups))
	for g := range groups {
		var idx []int
		for i := range s.Time {
			if s.Group == nil || s.Group[i] == g {
				idx = append(idx, i)
			}
		}
		out[g] = kaplanMeier(s.Time, s.Event, idx)
		out[g].Group = groups[g]
	}
	return out
}

func kaplanMeier(time []float64, event []bool, idx []int) KMCurve {
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(time[a], time[b]) })
	c := KMCurve{N: len(idx)}
	surv, varSum := 1.0, 0.0
	atRisk := len(idx)
	for a := 0; a < len(idx); {
		t := time[idx[a]]
		b, d := a, 0
		for b < len(idx) && time[idx[b]] == t {
			if event[idx[b]] {
				d++
			}
			b++
		}
		st := KMStep{Time: t, NRisk: atRisk, NEvent: d, NCensor: b - a - d}
		if d > 0 {
			surv *= 1 - float64(d)/float64(atRisk)
			if d < atRisk {
				varSum += float64(d) / (float64(atRisk) * float64(atRisk-d))
			} else {
				varSum = math.Inf(1)
			}
		}
		st.Surv, st.StdErr = surv, math.Sqrt(varSum)
		st.Lower, st.Upper = logCI(surv, st.StdErr)
		c.Events += d
		c.Steps = append(c.Steps, st)
		atRisk -= b - a
		a = b
	}
	return c
}

// logCI is the 95% interval S·exp(∓z·σ), capped at 1 (R's conf.type
// "log"); 0 and 0 once the survival is 0.
func logCI(surv, se float64) (float64, float64) {
	if surv == 0 || math.IsInf(se, 1) {
		return 0, 0
	}
	return surv * math.Exp(-z975*se), min(1, surv*math.Exp(z975*se))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LogRank is the log-rank test of equal survival across groups (R's
// survdiff with rho = 0): observed and expected events per group and the
// chi-squared statistic on groups − 1 degrees of freedom.
type LogRank struct {
	Groups   []string  `json:"groups"`
	N        []int     `json:"n"`
	Observed []int     `json:"observed"`
	Expected []float64 `json:"expected"`
	Chisq    float64   `json:"chisq"`
	DF       int       `json:"df"`
	P        float64   `json:"p"`
}

// LogRankTest compares the groups of s; it needs at least two groups with
// rows.
func LogRankTest(s *SurvivalData) (LogRank, error) {
	if s.Group == nil {
		return LogRank{}, paramErr("group", "a log-rank test needs a group")
	}
	G := len(s.Groups)
	r := LogRank{Groups: slices.Clone(s.Groups), N: make([]int, G), Observed: make([]int, G), Expected: make([]float64, G)}
	idx := make([]int, len(s.Time))
	for i := range idx {
		idx[i] = i
		r.N[s.Group[i]]++
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(s.Time[a], s.Time[b]) })
	atRisk := slices.Clone(r.N)
	total := len(idx)
	v := make([]float64, G*G)
	dg := make([]int, G)
	leave := make([]int, G)
	for a := 0; a < len(idx); {
		t := s.Time[idx[a]]
		b, d := a, 0
		clear(dg)
		clear(leave)
		for b < len(idx) && s.Time[idx[b]] == t {
			g := s.Group[idx[b]]
			leave[g]++
			if s.Event[idx[b]] {
				dg[g]++
				d++
			}
			b++
		}
		if d > 0 {
			n := float64(total)
			for g := range G {
				r.Observed[g] += dg[g]
				r.Expected[g] += float64(d) * float64(atRisk[g]) / n
			}
			if total > 1 {
				f := float64(d) * (n - float64(d)) / (n - 1)
				for g := range G {
					pg := float64(atRisk[g]) / n
					for h := range G {
						delta := 0.0
						if g == h {
							delta = 1
						}
						v[g*G+h] += f * pg * (delta - float64(atRisk[h])/n)
					}
				}
			}
		}
		for g := range G {
			atRisk[g] -= leave[g]
		}
		total -= b - a
		a = b
	}
	// The statistic on the first G−1 groups (the last is determined by
	// them): (O−E)' V⁻¹ (O−E), V inverted as a symmetric matrix.
	var used []int
	for g := range G {
		if r.N[g] > 0 {
			used = append(used, g)
		}
	}
	if len(used) < 2 {
		return LogRank{}, paramErr("group", "a log-rank test needs rows in at least two groups")
	}
	k := len(used) - 1
	diff := make([]float64, k)
	vm := make([]float64, 0, PackedLen(k))
	for a := range k {
		diff[a] = float64(r.Observed[used[a]]) - r.Expected[used[a]]
		for b := a; b < k; b++ {
			vm = append(vm, v[used[a]*G+used[b]])
		}
	}
	f, err := factorise(NewtonStep{Gradient: diff, Hessian: vm})
	if err != nil {
		return LogRank{}, fmt.Errorf("%w: the log-rank variance is singular (no events in the groups' common follow-up)", ErrSingular)
	}
	sol := f.solve(diff)
	for a := range k {
		r.Chisq += diff[a] * sol[a]
	}
	r.DF = k
	r.P = chiSquaredUpper(r.Chisq, float64(k))
	return r, nil
}

// GridCounts is one group's follow-up summarised on a grid: for each grid
// interval (g[k−1], g[k]] (the first is [0, g[0]]) the events and the
// censorings in it, and the rows followed beyond the last point. Each row
// is in exactly one of these cells, so adding or removing a person changes
// one count by one. The Kaplan–Meier curve of the times coarsened to the
// grid (CoarsenTimes) is a function of these counts alone.
type GridCounts struct {
	Group    string
	Events   []int64
	Censored []int64
	Beyond   int64
}

// N is the group's rows.
func (g *GridCounts) N() int64 {
	n := g.Beyond
	for k := range g.Events {
		n += g.Events[k] + g.Censored[k]
	}
	return n
}

// CountOnGrid summarises each group of s (one group without a Group) on
// the grid.
func CountOnGrid(s *SurvivalData, grid []float64) ([]GridCounts, error) {
	if err := ValidateGrid(grid); err != nil {
		return nil, err
	}
	groups := s.Groups
	if groups == nil {
		groups = []string{""}
	}
	out := make([]GridCounts, len(groups))
	for g := range out {
		out[g] = GridCounts{Group: groups[g], Events: make([]int64, len(grid)), Censored: make([]int64, len(grid))}
	}
	for i, t := range s.Time {
		c := &out[0]
		if s.Group != nil {
			c = &out[s.Group[i]]
		}
		switch k := sort.SearchFloat64s(grid, t); {
		case k == len(grid):
			c.Beyond++
		case s.Event[i]:
			c.Events[k]++
		default:
			c.Censored[k]++
		}
	}
	return out, nil
}

// KMPoint is a point of a Kaplan–Meier curve of grouped times: at risk at
// the start of an interval, events in it, the survival at its end, with
// Greenwood's standard error of the cumulative hazard and the log-scale
// 95% interval.
type KMPoint struct {
	NRisk, NEvent int64
	Surv, StdErr  float64
	Lower, Upper  float64
}

// KMStepper accumulates a Kaplan–Meier curve over grouped intervals.
type KMStepper struct {
	surv, varSum float64
}

// NewKMStepper starts a curve at survival 1.
func NewKMStepper() *KMStepper { return &KMStepper{surv: 1} }

// Step moves the curve over an interval with n at risk at its start and d
// events in it.
func (k *KMStepper) Step(n, d int64) KMPoint {
	if d > 0 && n > 0 {
		k.surv *= 1 - float64(d)/float64(n)
		if d < n {
			k.varSum += float64(d) / (float64(n) * float64(n-d))
		} else {
			k.varSum = math.Inf(1)
		}
	}
	p := KMPoint{NRisk: n, NEvent: d, Surv: k.surv, StdErr: math.Sqrt(k.varSum)}
	p.Lower, p.Upper = logCI(p.Surv, p.StdErr)
	if math.IsInf(p.StdErr, 1) {
		p.StdErr = 0 // the survival is 0 and known exactly
	}
	return p
}
