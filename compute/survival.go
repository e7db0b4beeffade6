package compute

import (
	"slices"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// runSurvival runs a single-site survival job: the grid counts of each
// group, the log-rank test when there are groups, the Cox model (on the
// exact times) when there are features; then the release rules.
//
// The order matters for what a refusal can say: a Cox model on a policy
// that does not release exact models is refused before anything is read
// from the rows; then the cohort rules run on counts alone; only then is
// anything fitted, so a singular or non-converging fit never speaks for a
// cohort that could not be released.
func runSurvival(t *analysis.Table, p analysis.SurvivalParams, r *outputctl.Releaser) (outputctl.SurvivalRelease, error) {
	cox := len(p.Features) > 0
	if cox {
		if err := exactAllowed(r); err != nil {
			return outputctl.SurvivalRelease{}, err
		}
	}
	s, err := analysis.NewSurvivalData(t, p)
	if err != nil {
		return outputctl.SurvivalRelease{}, err
	}
	if err := r.CheckSurvival(s, cox); err != nil {
		return outputctl.SurvivalRelease{}, err
	}
	res := outputctl.SurvivalResult{Grid: p.Grid}
	if res.Counts, err = analysis.CountOnGrid(s, p.Grid); err != nil {
		return outputctl.SurvivalRelease{}, err
	}
	if p.Group != nil {
		// A group below the minimum cohort gets no curve and no test; the
		// test is not even computed (an empty group has none).
		res.LogRankWithheld = slices.ContainsFunc(res.Counts, func(c analysis.GridCounts) bool { return c.N() < r.Policy.MinCohort })
		if !res.LogRankWithheld {
			lr, err := analysis.LogRankTest(s)
			if err != nil {
				return outputctl.SurvivalRelease{}, err
			}
			res.LogRank = &lr
		}
	}
	if cox {
		if res.Cox, err = analysis.FitCox(s, p.Ties, analysis.SolverOptions{MaxIter: p.MaxIter, Tol: p.Tol}); err != nil {
			return outputctl.SurvivalRelease{}, err
		}
	}
	return r.ReleaseSurvival(res)
}
