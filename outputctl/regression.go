package outputctl

import (
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/analysis"
)

// ErrNoPrivateRegression: the policy asks for differential privacy and does
// not allow exact regression results; fit with RegressPrivate instead.
var ErrNoPrivateRegression = errors.New("the policy requires a differentially private regression (RegressPrivate) or exact_regression")

// RegressionRelease is a released regression.
type RegressionRelease struct {
	Regression        analysis.Regression `json:"regression"`
	Noisy             bool                `json:"noisy"`
	EpsilonSpentMilli uint64              `json:"epsilon_spent_milli"`
	// ROCSuppressed: the fit had an ROC curve and it was withheld (events
	// or non-events below the minimum cohort); see ReleaseRegression.
	ROCSuppressed bool `json:"roc_suppressed,omitempty"`
}

// ROCDecimals: released TPRs are rounded to 10^−ROCDecimals (0.01).
const ROCDecimals = 2

// CheckRegressionRules applies the cohort rules of ReleaseRegression to a
// design before anything is computed from it (a linear regression has no
// events rule): a site of a pooled study runs it on its own cohort before
// it contributes, so that a cohort whose release would be refused
// contributes nothing at all. The error says which rule failed, never the
// count.
func (r *Releaser) CheckRegressionRules(d *analysis.Design, link analysis.Link) error {
	return r.regressionRules(d, link)
}

// CheckCounts applies the count rules of a regression release — the
// minimum cohort, and for a binary outcome a minimum cell of events and of
// non-events — to counts taken before any design is built
// (analysis.Table.CompleteCases).
func (r *Releaser) CheckCounts(n, events int64, link analysis.Link) error {
	if err := r.Policy.Validate(); err != nil {
		return err
	}
	if n < r.Policy.MinCohort {
		return fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if c := r.Policy.minCell(); link != analysis.Identity && (events < c || n-events < c) {
		return fmt.Errorf("%w: events and non-events must each be at least %d", ErrTooFewEvents, c)
	}
	return nil
}

// ReleaseRegression releases a fitted regression when:
//
//   - N reaches the minimum cohort;
//   - the residual degrees of freedom N − p are at least MinCell;
//   - for a binary outcome, events and non-events are each at least MinCell
//     (so no released count — N, events, or N − events — is small, and the
//     fit is not driven by a handful of outcomes);
//   - every 0/1 feature has at least MinCell rows at each level, so no
//     coefficient describes a small group.
//
// Model coefficients, standard errors, AUC, calibration and the
// Hosmer–Lemeshow statistic are then released exactly, as "safe
// statistics" — which the policy must allow with ExactRegression when it
// asks for differential privacy (otherwise use RegressPrivate); no epsilon
// is spent. The Hosmer–Lemeshow group table is never released, only its
// statistic.
//
// The ROC curve (TPR at the fixed FPR grid 0, 0.05, …, 1) is released only
// when events and non-events are each at least MinCohort — stricter than
// the MinCell rule above — and then with every TPR rounded to 0.01
// (ROCDecimals); otherwise the curve is dropped and ROCSuppressed set.
// TPR × events is a count (events scoring above a threshold), as is
// FPR × non-events; with at least MinCohort events a 0.01 step in TPR is at
// least MinCohort/100 events wide, so the counts the curve implies are
// coarse, and the grid is fixed in advance, not chosen by the requester.
// This is a threshold-and-rounding rule, like the minimum cell — not
// differential privacy: it bounds no one patient's influence, and curves
// from overlapping cohorts could still be differenced. Pooled fits carry
// no curve (no site sees the others' predictions), so they release none
// and mark nothing suppressed.
func (r *Releaser) ReleaseRegression(reg analysis.Regression) (RegressionRelease, error) {
	return r.checkRegression(reg)
}

// checkRegression is ReleaseRegression's rules and release.
func (r *Releaser) checkRegression(reg analysis.Regression) (RegressionRelease, error) {
	if err := r.Policy.Validate(); err != nil {
		return RegressionRelease{}, err
	}
	if r.private() && !r.Policy.ExactRegression {
		return RegressionRelease{}, ErrNoPrivateRegression
	}
	minCell := r.Policy.minCell()
	if reg.N < r.Policy.MinCohort {
		return RegressionRelease{}, fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if df := reg.N - int64(len(reg.Coefficients)); df < minCell {
		return RegressionRelease{}, fmt.Errorf("%w: fewer than %d residual degrees of freedom", ErrBelowMinCohort, minCell)
	}
	if reg.Link != analysis.Identity && (reg.Events < minCell || reg.N-reg.Events < minCell) {
		return RegressionRelease{}, fmt.Errorf("%w: events and non-events must each be at least %d", ErrTooFewEvents, minCell)
	}
	for _, c := range reg.Coefficients {
		if c.Levels != nil && (c.Levels.Zeros < minCell || c.Levels.Ones < minCell) {
			return RegressionRelease{}, fmt.Errorf("%w: %q needs at least %d rows at 0 and at 1", ErrSmallGroup, c.Name, minCell)
		}
	}
	out := RegressionRelease{Regression: reg}
	out.Regression.ROC, out.ROCSuppressed = r.releaseROC(reg)
	return out, nil
}

// releaseROC applies the ROC rule of ReleaseRegression: a new slice, with
// rounded TPRs, or nil and whether a curve was withheld.
func (r *Releaser) releaseROC(reg analysis.Regression) ([]analysis.ROCPoint, bool) {
	if reg.ROC == nil {
		return nil, false
	}
	if reg.Link == analysis.Identity || reg.Events < r.Policy.MinCohort || reg.N-reg.Events < r.Policy.MinCohort {
		return nil, true
	}
	scale := math.Pow10(ROCDecimals)
	pts := make([]analysis.ROCPoint, len(reg.ROC))
	for i, p := range reg.ROC {
		pts[i] = analysis.ROCPoint{FPR: p.FPR, TPR: math.Round(p.TPR*scale) / scale}
	}
	return pts, false
}

// EvaluationRelease is a released model evaluation.
type EvaluationRelease struct {
	Evaluation        analysis.Evaluation `json:"evaluation"`
	EpsilonSpentMilli uint64              `json:"epsilon_spent_milli"`
}

// ReleaseEvaluation releases a saved model's evaluation on a cohort under
// the regression rules: N ≥ MinCohort, events and non-events ≥ MinCell,
// and, under a differentially private policy, only with ExactRegression.
func (r *Releaser) ReleaseEvaluation(e analysis.Evaluation) (EvaluationRelease, error) {
	if err := r.Policy.Validate(); err != nil {
		return EvaluationRelease{}, err
	}
	if r.private() && !r.Policy.ExactRegression {
		return EvaluationRelease{}, ErrNoPrivateRegression
	}
	if e.N < r.Policy.MinCohort {
		return EvaluationRelease{}, fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if minCell := r.Policy.minCell(); e.Events < minCell || e.N-e.Events < minCell {
		return EvaluationRelease{}, fmt.Errorf("%w: events and non-events must each be at least %d", ErrTooFewEvents, minCell)
	}
	return EvaluationRelease{Evaluation: e}, nil
}
