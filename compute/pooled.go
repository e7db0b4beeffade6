package compute

import (
	"context"
	"errors"
	"slices"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
)

// Pooled fits. A logistic regression job over several sites is fitted as
// one model on the union of the sites' consented rows: each site's worker
// posts its Newton step (analysis.LocalStep, fixed-point encoded by
// analysis.DefaultFixedPoint) for every iteration on the ledger (post_step),
// and every worker replays the same analysis.Solver over the sums of the
// posted steps, so they all agree on the coefficients of the next iteration
// and on convergence without a coordinator. At convergence each site
// releases the same pooled regression through outputctl and posts it.

// PooledFixedPoint encodes the posted steps: 2^-30 resolution (the
// log-likelihood of a sum of steps must be exact to well below the solver's
// 1e-10 relative test, or rounding looks like a fall and triggers
// step-halving), values below 2^27 from each of up to 64 sites.
var PooledFixedPoint = analysis.FixedPoint{FracBits: 30, MaxSites: 64}

// StepReader is the optional Backend method pooled fits need
// (*client.Client implements it).
type StepReader interface {
	JobSteps(ctx context.Context, id uint64) ([]ledger.JobStep, error)
}

// errStepPosted: the site posted its step of the current iteration; the
// job goes on once every site has.
var errStepPosted = errors.New("step posted")

// errWaiting: the site's step of the current iteration is on the ledger;
// the other sites' are not yet.
var errWaiting = errors.New("waiting for the other sites' steps")

// pooled says whether a job is fitted as one model across its sites.
func pooled(j *ledger.Job) bool {
	if len(j.Sites) < 2 || j.Analysis != "logistic_regression" {
		return false
	}
	var p regressionParams
	if err := decodeParams(j.Params, &p); err != nil {
		return true // the pooled path refuses it
	}
	return p.Private == nil
}

// poolState is where the ledger's steps leave a pooled fit.
type poolState struct {
	iter   uint32    // the smallest iteration not complete
	beta   []float64 // the coefficients of that iteration
	posted bool      // this site's step of iter is on the ledger
	done   bool      // converged: beta and at are final
	at     analysis.NewtonStep
	iters  int
}

// replay runs the solver over the complete iterations on the ledger.
func replay(steps []ledger.JobStep, j *ledger.Job, dataset string, p int, opts analysis.SolverOptions) (*poolState, error) {
	byIter := map[uint32]map[string][]int64{}
	for _, s := range steps {
		if byIter[s.Iteration] == nil {
			byIter[s.Iteration] = map[string][]int64{}
		}
		byIter[s.Iteration][s.Dataset] = s.Step
	}
	solver, err := analysis.NewSolver(make([]float64, p), opts)
	if err != nil {
		return nil, err
	}
	fp := PooledFixedPoint
	for k := uint32(0); ; k++ {
		got := byIter[k]
		_, mine := got[dataset]
		if len(got) < len(j.Sites) {
			return &poolState{iter: k, beta: solver.Beta(), posted: mine}, nil
		}
		encs := make([][]int64, 0, len(j.Sites))
		for _, s := range j.Sites { // in the job's site order: every worker sums alike
			encs = append(encs, got[s.Dataset])
		}
		sum, err := analysis.SumEncoded(encs...)
		if err != nil {
			return nil, refuse("analysis_error", err)
		}
		step, err := fp.Decode(sum, p)
		if err != nil {
			return nil, refuse("analysis_error", err)
		}
		done, err := solver.Observe(step)
		if err != nil {
			return nil, err
		}
		if done {
			beta, at := solver.Result()
			return &poolState{iter: k + 1, beta: beta, done: true, at: *at, iters: solver.Iterations()}, nil
		}
	}
}

// computePooled does one round of a pooled fit for a site: it posts the
// site's step of the current iteration (errStepPosted), reports that it is
// waiting (errWaiting), or, once the fit converged, returns the encrypted
// pooled result.
func (w *Worker) computePooled(ctx context.Context, reg *ledger.Worker, j *ledger.Job, site ledger.JobSite, t *analysis.Table, rel *outputctl.Releaser) (string, any, error) {
	var p regressionParams
	if err := decodeParams(j.Params, &p); err != nil {
		return "", nil, err
	}
	if p.Private != nil {
		return "", nil, &analysis.ParamError{Param: "private", Reason: "a pooled fit across sites is released exactly"}
	}
	// A pooled fit is exact: refuse it before posting any step if this
	// site's policy does not allow exact regressions.
	if err := exactAllowed(rel); err != nil {
		return "", nil, err
	}
	if p.Link == "" {
		p.Link = analysis.Logit
	}
	if p.Link == analysis.Identity {
		return "", nil, &analysis.ParamError{Param: "link", Reason: "use linear_regression for the identity link"}
	}
	opts := analysis.SolverOptions{MaxIter: p.MaxIter, Tol: p.Tol}
	d, err := analysis.NewDesign(t, p.Outcome, p.Features, p.Filter)
	if err != nil {
		return "", nil, err
	}
	names := d.Names()
	opts.Names = names
	sr, ok := w.Ledger.(StepReader)
	if !ok {
		return "", nil, errors.New("the ledger backend cannot read pooled-fit steps")
	}
	steps, err := sr.JobSteps(ctx, j.ID)
	if err != nil {
		return "", nil, err
	}
	st, err := replay(steps, j, site.Dataset, d.P(), opts)
	if err != nil {
		return "", nil, err
	}
	if !st.done {
		if st.posted {
			return "", nil, errWaiting
		}
		step, err := analysis.LocalStep(d, st.beta, p.Link)
		if err != nil {
			return "", nil, err
		}
		enc, err := PooledFixedPoint.Encode(step)
		if err != nil {
			return "", nil, refuse("analysis_error", err)
		}
		if err := w.submit(ctx, &ledger.PostStep{Job: j.ID, Dataset: site.Dataset, Iteration: st.iter, Step: enc}); err != nil {
			return "", nil, err
		}
		w.log().Info("pooled fit step", "job", j.ID, "dataset", site.Dataset, "iteration", st.iter)
		return "", nil, errStepPosted
	}
	cov, err := analysis.Covariance(st.at)
	if err != nil {
		return "", nil, err
	}
	reg2 := analysis.Regression{
		Link: p.Link, Outcome: d.Outcome, StatName: "z", RatioName: p.Link.RatioName(),
		N: int64(st.at.N), Events: int64(st.at.Events), LogLik: st.at.LogLik,
		Coefficients: analysis.WaldTable(names, st.beta, cov, p.Link),
		Iterations:   st.iters, Tol: max(p.Tol, 0),
		Model: analysis.Model{Link: p.Link, Features: d.Features, Intercept: st.beta[0], Coefficients: slices.Clone(st.beta[1:])},
	}
	if reg2.Tol == 0 {
		reg2.Tol = analysis.DefaultTol
	}
	// The small-group rule on 0/1 features: each site checks its own rows
	// (the pooled counts are not on the ledger), which is stricter than
	// checking the pooled groups.
	for jf := range d.Features {
		reg2.Coefficients[jf+1].Levels = d.Levels(jf)
	}
	out, err := rel.ReleaseRegression(reg2)
	if err != nil {
		return "", nil, err
	}
	return "pooled_regression", out, nil
}

// PooledRelease is the release of a pooled fit (release_kind
// "pooled_regression"): an outputctl.RegressionRelease of the model fitted
// on every site's consented rows. It has no AUC, calibration or
// Hosmer–Lemeshow statistic: those need the rows' predictions, which no
// site sees for the others.
type PooledRelease = outputctl.RegressionRelease
