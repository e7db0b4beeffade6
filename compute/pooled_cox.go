package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/vault"
)

// Pooled Cox studies. A survival job with features over two or more
// datasets is one Cox model of the union of the sites' consented rows,
// fitted on one of the public time grids (analysis.CoxGridSums: why a grid,
// and not the exact event times, is in docs/analyses.md). It runs through
// the same study machinery as a pooled logistic regression — masked
// fixed-point contributions with bounds proofs, the ledger's sums, every
// worker replaying the same Solver — with the grid sums in place of a
// Newton step, then a final sum of noisy counts.

// PlanSurvivalStudy declares the study of a multi-site Cox model on one of
// the public grids (analysis.PooledCoxGrids): the design's columns, each centred at the midpoint of its public range and
// bounded by its half-width (ranges from the plausible ranges normalize
// enforces, 0/1 for booleans and factor levels, or the requester's
// columnBounds), the grid in millionths and the ties method. Nothing here
// reads data.
func PlanSurvivalStudy(params json.RawMessage, schema []ledger.Field, columnBounds map[string]analysis.Bounds) (*ledger.StudyRequest, error) {
	var p analysis.SurvivalParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(p.Features) == 0 {
		return nil, &analysis.ParamError{Param: "features", Reason: "a pooled survival study fits a Cox model: give its features (curves alone are released by each site, without a study)"}
	}
	if p.Group != nil {
		return nil, &analysis.ParamError{Param: "group", Reason: "a pooled Cox study has no groups: put the column in the features (as a factor)"}
	}
	ties := p.Ties
	if ties == "" {
		ties = analysis.TiesEfron
	}
	grid, err := microGrid(p.Grid)
	if err != nil {
		return nil, err
	}
	// The rule workers apply before opening the data
	// (jobparams.CheckStudy), told before anything is signed.
	if err := analysis.CheckPooledCoxGrid(p.Grid); err != nil {
		return nil, err
	}
	types := map[string]string{}
	for _, f := range schema {
		types[f.Name] = f.Type
	}
	f, err := analysis.ParseFormula(p.Features, p.Factors, func(s string) bool { _, ok := types[s]; return ok })
	if err != nil {
		return nil, err
	}
	colBound := columnBound(schema, types, columnBounds)
	spec := federated.Spec{Columns: uint32(len(f.Names)), Link: federated.LinkCox, Cox: &federated.CoxSpec{Grid: grid, Ties: ties}}
	for j, name := range f.Names {
		lo, hi, err := f.Range(j, colBound)
		if err != nil {
			return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("%s: %v", name, err)}
		}
		center := math.Round(math.Ldexp((lo+hi)/2, federated.MaxAbsUnit))
		// The half-width about the rounded centre, rounded up.
		half := math.Ceil(max(math.Ldexp(hi, federated.MaxAbsUnit)-center, center-math.Ldexp(lo, federated.MaxAbsUnit)))
		if !(half >= 1 && half <= 1<<40 && math.Abs(center) <= 1<<40) {
			return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("the range of %s is out of bounds", name)}
		}
		spec.MaxAbs = append(spec.MaxAbs, uint64(half))
		spec.Cox.Center = append(spec.Cox.Center, int64(center))
	}
	if err := spec.Validate(); err != nil {
		return nil, &analysis.ParamError{Param: "features", Reason: err.Error()}
	}
	return &ledger.StudyRequest{Spec: spec}, nil
}

// PlanStudyFor plans the study of a job whose analysis NeedsStudy.
func PlanStudyFor(analysisName string, params json.RawMessage, schema []ledger.Field, columnBounds map[string]analysis.Bounds) (*ledger.StudyRequest, error) {
	if analysisName == "survival" {
		return PlanSurvivalStudy(params, schema, columnBounds)
	}
	return PlanStudy(params, schema, columnBounds)
}

// microGrid is a grid in millionths, which the ledger holds as integers:
// a point with more decimals is refused, not rounded.
func microGrid(grid []float64) ([]uint64, error) {
	out := make([]uint64, len(grid))
	for i, g := range grid {
		m := math.Round(g * 1e6)
		if math.Abs(m-g*1e6) > 1e-6*max(1, m) || m < 1 || m > 1<<53 {
			return nil, &analysis.ParamError{Param: fmt.Sprintf("grid[%d]", i), Reason: "a pooled study's grid points have at most 6 decimals"}
		}
		out[i] = uint64(m)
	}
	return out, nil
}

// coxStudy is a Cox spec's numbers as a worker uses them.
type coxStudy struct {
	grid, center, maxAbs []float64
	ties                 string
}

func newCoxStudy(spec federated.Spec) coxStudy {
	c := coxStudy{ties: spec.Cox.Ties}
	for _, g := range spec.Cox.Grid {
		c.grid = append(c.grid, float64(g)/1e6)
	}
	for j := range spec.Columns {
		c.center = append(c.center, math.Ldexp(float64(spec.Cox.Center[j]), -federated.MaxAbsUnit))
		c.maxAbs = append(c.maxAbs, math.Ldexp(float64(spec.MaxAbs[j]), -federated.MaxAbsUnit))
	}
	return c
}

// decode turns a study sum into the grid model's step at beta.
func (c coxStudy) decode(sum []int64, beta []float64) (analysis.NewtonStep, error) {
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	if len(sum) != analysis.CoxGridLen(len(beta), len(c.grid)) {
		return analysis.NewtonStep{}, fmt.Errorf("a Cox sum of %d values, want %d", len(sum), analysis.CoxGridLen(len(beta), len(c.grid)))
	}
	return analysis.CoxGridStep(fp.DecodeValues(sum), len(beta), len(c.grid), beta, c.ties, analysis.CoxShift(beta, c.maxAbs))
}

// computePooledCox is computePooled for a survival study.
func (w *Worker) computePooledCox(ctx context.Context, j *ledger.Job, site ledger.JobSite, t *analysis.Table, rel *outputctl.Releaser, v *vault.Version, sr StudyReader) (ReleaseKind, any, error) {
	var p analysis.SurvivalParams
	if err := decodeParams(j.Params, &p); err != nil {
		return "", nil, err
	}
	spec := j.Study.Spec
	if spec.Cox == nil {
		return "", nil, &analysis.ParamError{Param: "study", Reason: "a survival study must be declared as a Cox study"}
	}
	// Exact models only: refuse before contributing anything if this
	// site's policy does not release them.
	if err := exactAllowed(rel); err != nil {
		return "", nil, err
	}
	cs := newCoxStudy(spec)
	grid, err := microGrid(p.Grid)
	if err != nil {
		return "", nil, err
	}
	ties := p.Ties
	if ties == "" {
		ties = analysis.TiesEfron
	}
	if !slices.Equal(grid, spec.Cox.Grid) || ties != spec.Cox.Ties {
		return "", nil, &analysis.ParamError{Param: "grid", Reason: "the study's grid or ties differ from the job's params"}
	}
	s, err := analysis.NewSurvivalData(t, p)
	if err != nil {
		return "", nil, err
	}
	if len(s.X) != int(spec.Columns) {
		return "", nil, &analysis.ParamError{Param: "study.columns", Reason: fmt.Sprintf("the design has %d columns, the study declares %d", len(s.X), spec.Columns)}
	}
	// Output controls on this site's own cohort, before anything is
	// computed from it and before anything leaves: the cohort and factor
	// rules, then — recorded first — the cohort in the overlap record, and
	// only then the grid's counts and the Cox rules. The grid check's
	// refusal is itself a release about the cohort (on the ledger, for
	// every participant to read), so the cohort it judged is recorded
	// whether it passes or not: a filter swept to move a few patients in
	// and out of the cohort meets the overlap rule (cohort_overlap) rather
	// than a fresh grid check, and either refusal, made after reading the
	// data, costs the requester this site's price and epsilon.
	if err := rel.CheckSurvival(s, true); err != nil {
		return "", nil, err
	}
	if err := w.checkOverlap(site, j.ID, v, t, s.Rows, studyGroup(j)); err != nil {
		return "", nil, err
	}
	counts, err := analysis.CountOnGrid(s, cs.grid)
	if err != nil {
		return "", nil, err
	}
	if err := rel.CheckGridCounts(counts[0], cs.grid); err != nil {
		return "", nil, err
	}
	// A round's sums are per interval, over its events and its risk set,
	// of each column and each pair's product: the small-group rule holds
	// interval by interval too (after the overlap record, like the counts).
	if err := rel.CheckGridSupport(s, s.X, cs.grid); err != nil {
		return "", nil, err
	}
	own := &analysis.CoxFit{N: int64(s.N()), Events: int64(s.Events())}
	for k, name := range s.Features {
		own.Coefficients = append(own.Coefficients, analysis.Coefficient{Name: name, Levels: s.Levels[k]})
	}
	if err := rel.CheckCoxRules(own); err != nil {
		return "", nil, err
	}
	// The sums are computed on the features centred at the study's
	// centres and clamped to its bounds (ingest has kept values within the
	// plausible ranges the bounds come from; clamping rather than refusing
	// keeps the bounds from probing the data).
	work := *s
	work.X = make([][]float64, len(s.X))
	for k, col := range s.X {
		work.X[k] = make([]float64, len(col))
		for i, x := range col {
			work.X[k][i] = min(max(x-cs.center[k], -cs.maxAbs[k]), cs.maxAbs[k])
		}
	}
	zero := make([]float64, len(s.X))

	view, err := sr.Study(ctx, j.ID)
	if err != nil {
		return "", nil, err
	}
	st := view.Study
	if !slices.Contains(st.Participants, site.Dataset) {
		return "", nil, errNotMine
	}
	fit, err := replay(view.Sums, len(s.X), analysis.SolverOptions{MaxIter: p.MaxIter, Tol: coxTol(p.Tol), Names: s.Features}, st.Round, restartPerturbation(j.ID, spec), cs.decode)
	if err != nil {
		return "", nil, err
	}
	if st.Done {
		return w.releasePooledCox(s, cs, fit, rel)
	}
	return w.postContribution(ctx, j, site, sr, view, fit.phase, rel, func(rel *outputctl.Releaser) ([]int64, error) {
		if fit.phase == federated.PhaseFinal {
			n, events, err := rel.NoisyCounts(int64(s.N()), int64(s.Events()), federated.CountUnits, spec.CountShare(site.EpsilonMilli))
			if err != nil {
				return nil, err
			}
			return []int64{n, events}, nil
		}
		sums, err := analysis.CoxGridSums(&work, cs.grid, fit.beta, zero, analysis.CoxShift(fit.beta, cs.maxAbs))
		if err != nil {
			return nil, err
		}
		sums[0], sums[1] = 0, 0 // counts are summed once, in the final iteration
		fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
		values, err := fp.EncodeValues(sums)
		if err != nil {
			return nil, refuse("analysis_error", err)
		}
		return values, nil
	})
}

// coxTol is a pooled Cox fit's tolerance: the params', or the grid
// model's default (analysis.DefaultGridTol).
func coxTol(tol float64) float64 {
	if tol == 0 {
		return analysis.DefaultGridTol
	}
	return tol
}

// releasePooledCox builds the pooled Cox model from the replayed fit and
// the final sum, and releases it through this site's output controls.
func (w *Worker) releasePooledCox(s *analysis.SurvivalData, cs coxStudy, fit *fitState, rel *outputctl.Releaser) (ReleaseKind, any, error) {
	if len(fit.final) != 2 {
		return "", nil, refuse("analysis_error", errors.New("the study's final sum is missing"))
	}
	// The pooled counts are noisy (public sums); keep them consistent.
	n, events := rel.ConsistentCounts(fit.final[0], fit.final[1])
	cox, err := analysis.CoxFitFromSteps(s.Features, cs.ties, fit.beta, fit.at, fit.null, fit.iters)
	if err != nil {
		return "", nil, err
	}
	cox.N, cox.Events, cox.Grid = n, events, cs.grid
	// The small-group rule on 0/1 columns: each site checks its own rows
	// (the pooled counts are not summed), which is stricter than checking
	// the pooled groups.
	for k := range cox.Coefficients {
		cox.Coefficients[k].Levels = s.Levels[k]
	}
	out, err := rel.ReleasePooledCox(cs.grid, cox)
	if err != nil {
		return "", nil, err
	}
	return KindPooledSurvival, out, nil
}
