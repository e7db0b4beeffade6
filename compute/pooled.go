package compute

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/vault"
)

// Pooled studies. A logistic regression job submitted with a study spec is
// fitted as one model on the union of the sites' consented rows, by
// federated Newton–Raphson through the ledger: every iteration each site
// posts its Newton step at the current coefficients, masked with pairwise
// masks and committed with a bounds proof (federated.Contribute); the
// ledger adds the masked vectors and keeps only the sum; every worker
// replays the same analysis.Solver over the sums, so all agree on the next
// coefficients and on convergence without a coordinator. After convergence
// a final iteration sums the cohort's N and events; each site then releases
// the same pooled regression through outputctl and posts it, encrypted to
// the requester.
//
// Before its first contribution a site checks, on its own consented and
// filtered cohort, everything a release of that cohort would be checked
// for (minimum cohort, events and non-events, small 0/1 groups, overlap
// with the cohorts it released before), and that its rows lie within the
// study's declared bounds: nothing computed from a cohort leaves the site
// unless a release of it would be allowed.

// StudyReader is the optional Backend method pooled studies need
// (*client.Client implements it).
type StudyReader interface {
	Study(ctx context.Context, id uint64) (*api.StudyView, error)
	Account(ctx context.Context, addr string) (*ledger.Account, error)
}

// errStepPosted: the site posted its contribution to the current
// iteration; the study goes on once every participant has.
var errStepPosted = errors.New("contribution posted")

// errWaiting: the site's contribution to the current iteration is on the
// ledger; the other participants' are not yet.
var errWaiting = errors.New("waiting for the other sites' contributions")

// errAdvanced: the iteration's deadline passed; the site advanced the
// study (the sites that missed it are recorded as dropped).
var errAdvanced = errors.New("advanced the study past a missed deadline")

// errNotMine: another worker of the organisation contributes for the site,
// or the site was excluded from the study.
var errNotMine = errors.New("not this worker's study site")

// pooled says whether a job is a pooled study.
func pooled(j *ledger.Job) bool { return j.Study != nil }

// fitState is where the ledger's sums leave a pooled fit.
type fitState struct {
	phase string    // what the current iteration sums
	beta  []float64 // the coefficients of the current iteration (step phase) or the final ones
	at    analysis.NewtonStep
	iters int
	final []int64 // the final sum (N, events), once the study is done
	// lastSites are the sites summed in the last step (a private fit's
	// noise comes from them).
	lastSites []string
	// null is the first sum's step when it was taken at zero
	// coefficients (a Cox model's null log-likelihood and score test).
	null *analysis.NewtonStep
}

// replayPrivate replays a private study: a fixed number of Newton rounds
// from β = 0 over the noisy sums, without a convergence test or step
// halving (either would spend epsilon), then the final sum of counts. Each
// round's summed information matrix but the last is lifted to the floor
// its participants' noise sets (floor), as a single-site private fit does.
func replayPrivate(sums []ledger.StudySum, p, rounds int, floor func(participants []string) float64) (*fitState, error) {
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	st := &fitState{phase: federated.PhaseStep, beta: make([]float64, p)}
	for _, s := range sums {
		if s.Phase == federated.PhaseFinal {
			if st.iters < rounds {
				return nil, refuse("analysis_error", errors.New("the study's final sum came before its rounds were done"))
			}
			st.final = s.Sum
			return st, nil
		}
		if st.iters >= rounds {
			return nil, refuse("analysis_error", errors.New("the study went on stepping after its rounds"))
		}
		step, err := fp.Decode(s.Sum, p)
		if err != nil {
			return nil, refuse("analysis_error", err)
		}
		if st.iters < rounds-1 { // the last is used as it is: the standard errors come from it
			if step, err = analysis.FloorInformation(step, floor(s.Participants)); err != nil {
				return nil, fmt.Errorf("%w (%v)", outputctl.ErrNoiseTooLarge, err)
			}
		}
		next, err := analysis.NextBeta(st.beta, step)
		if err != nil {
			return nil, fmt.Errorf("%w (%v)", outputctl.ErrNoiseTooLarge, err)
		}
		st.beta, st.at, st.lastSites = next, step, s.Participants
		st.iters++
	}
	if st.iters == rounds {
		st.phase = federated.PhaseFinal
	}
	return st, nil
}

// siteEpsilons is the epsilon each listed dataset's site gives the job
// (a dataset that is not a site of the job adds nothing).
func siteEpsilons(j *ledger.Job, datasets []string) []uint64 {
	var eps []uint64
	for _, ds := range datasets {
		if i := slices.IndexFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == ds }); i >= 0 {
			eps = append(eps, j.Sites[i].EpsilonMilli)
		}
	}
	return eps
}

// releasePooledPrivate builds a private study's release from the replayed
// rounds and the final (noisy) counts.
func (w *Worker) releasePooledPrivate(j *ledger.Job, d *analysis.Design, p regressionParams, spec federated.Spec, fit *fitState, rel *outputctl.Releaser) (ReleaseKind, any, error) {
	if len(fit.final) != spec.FinalLen() {
		return "", nil, refuse("analysis_error", errors.New("the study's final sum is missing"))
	}
	for _, ds := range fit.lastSites {
		if !slices.ContainsFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == ds }) {
			return "", nil, refuse("analysis_error", fmt.Errorf("summed site %q is not a site of the job", ds))
		}
	}
	eps := siteEpsilons(j, fit.lastSites)
	out, err := rel.ReleasePooledPrivate(d, p.Private.Bounds, outputctl.PooledPrivateFit{Beta: fit.beta, Last: fit.at,
		SiteEpsilonMilli: eps, Shares: spec.NoiseShares(), N: fit.final[0], Events: fit.final[1], Rounds: fit.iters})
	if err != nil {
		return "", nil, err
	}
	diag := rel.ReleasePooledDiagnostics(fit.final[2:], int(spec.Bins))
	if diag != nil {
		out.Regression.AUC, out.Regression.Calibration = diag.AUC, diag.Calibration
	}
	return KindPooledPrivateRegression, PooledPrivateRelease{PrivateRegressionRelease: out, Diagnostics: diag}, nil
}

// replay runs the solver over a study's sums. A new round restarts the
// solver where the last one left off (the coefficients of the iteration it
// did not complete), so every completed sum is at coefficients no other
// completed sum shares.
//
// Every restarted round starts from a moved point (perturb), from its very
// first contribution: the first sum of a round — and the abandoned
// contributions of the round before — are never at the coefficients of
// another round's. current is the study's current round: when it has no
// sum yet, the coefficients to contribute at are already moved for it.
//
// decode turns a sum into the step at the coefficients it was taken at
// (nil: a regression's fixed-point NewtonStep).
func replay(sums []ledger.StudySum, p int, opts analysis.SolverOptions, current uint32, perturb func(round uint32, beta []float64) []float64,
	decode func(sum []int64, beta []float64) (analysis.NewtonStep, error)) (*fitState, error) {
	solver, err := analysis.NewSolver(make([]float64, p), opts)
	if err != nil {
		return nil, err
	}
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	if decode == nil {
		decode = func(sum []int64, _ []float64) (analysis.NewtonStep, error) { return fp.Decode(sum, p) }
	}
	round := uint32(0)
	st := &fitState{phase: federated.PhaseStep}
	converged := false
	for _, s := range sums {
		if s.Phase == federated.PhaseFinal {
			if !converged {
				return nil, refuse("analysis_error", errors.New("the study's final sum came before the fit converged"))
			}
			st.final = s.Sum
			return st, nil
		}
		if converged {
			return nil, refuse("analysis_error", errors.New("the study went on stepping after the fit converged"))
		}
		if s.Round != round {
			round = s.Round
			if solver, err = analysis.NewSolver(perturb(round, solver.Beta()), opts); err != nil {
				return nil, err
			}
		}
		if opts.Resolution > 0 {
			// opts.Resolution is one site's rounding; this sum has the
			// rounding of every site in it (fixed by the ledger, so every
			// site replaying it decides alike).
			solver.SetResolution(opts.Resolution * float64(max(len(s.Participants), 1)))
		}
		beta := solver.Beta()
		step, err := decode(s.Sum, beta)
		if err != nil {
			return nil, refuse("analysis_error", err)
		}
		if st.iters == 0 && !slices.ContainsFunc(beta, func(b float64) bool { return b != 0 }) {
			null := step
			st.null = &null
		}
		done, err := solver.Observe(step)
		if err != nil {
			return nil, err
		}
		st.iters++
		if done {
			beta, at := solver.Result()
			st.beta, st.at, st.phase, converged = beta, *at, federated.PhaseFinal, true
		}
	}
	if !converged {
		st.beta = solver.Beta()
		if current != round {
			st.beta = perturb(current, st.beta)
		}
	}
	return st, nil
}

// restartPerturbation moves an exact study's coefficients when a round
// restarts: by a deterministic offset per job and round (anyone replaying
// the ledger computes the same), of 0.05/max|x_j| per coefficient, so the
// linear predictor moves by about 0.05 per feature. Without it a restarted
// round would sum, at the very coefficients of the abandoned iteration, a
// smaller set of sites than the one a departed site could unmask with its
// own pair secrets — and the difference would be a site's exact step.
func restartPerturbation(job uint64, spec federated.Spec) func(round uint32, beta []float64) []float64 {
	return func(round uint32, beta []float64) []float64 {
		out := slices.Clone(beta)
		for j := range out {
			var b [20]byte
			binary.BigEndian.PutUint64(b[:], job)
			binary.BigEndian.PutUint32(b[8:], round)
			binary.BigEndian.PutUint64(b[12:], uint64(j))
			h := sha256.Sum256(b[:])
			u := float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53) // [0, 1)
			scale := math.Ldexp(float64(spec.MaxAbs[j]), -federated.MaxAbsUnit)
			out[j] += (2*u - 1) * 0.05 / scale
		}
		return out
	}
}

// studyNoise is the source of a site's noise for one iteration of a study:
// ChaCha8 keyed by HKDF of the institution's study-noise key (from the
// vault secret unless StudyNoiseKey is set) and the job, iteration, phase
// and dataset.
func (w *Worker) studyNoise(chainID string, job uint64, iteration uint32, phase string, site ledger.JobSite) (outputctl.Source, error) {
	key := w.StudyNoiseKey
	if key == nil {
		secret, err := w.Vault.Secret()
		if err != nil {
			return nil, err
		}
		if key, err = hkdf.Key(sha256.New, secret, nil, "medchain/compute/study-noise/v1/"+w.Org, 32); err != nil {
			return nil, err
		}
	}
	// The chain id too: a vault reused on another chain (a re-genesis)
	// sees the same job ids again, for other values.
	seed, err := hkdf.Key(sha256.New, key, nil, fmt.Sprintf("chain %q job %d iteration %d phase %s dataset %s", chainID, job, iteration, phase, site.Dataset), 32)
	if err != nil {
		return nil, err
	}
	return mrand.NewChaCha8([32]byte(seed)), nil
}

// computePooled does one run of a study for a site: it posts the site's
// contribution to the current iteration (errStepPosted), reports that it is
// waiting (errWaiting), advances a study past a missed deadline
// (errAdvanced), or, once the final sum is in, returns the pooled release.
func (w *Worker) computePooled(ctx context.Context, j *ledger.Job, site ledger.JobSite, t *analysis.Table, rel *outputctl.Releaser, v *vault.Version) (ReleaseKind, any, error) {
	sr, ok := w.Ledger.(StudyReader)
	if !ok {
		return "", nil, errors.New("the ledger backend cannot read studies")
	}
	if site.StudyWorker != w.Key.Address() || site.Excluded != "" {
		return "", nil, errNotMine
	}
	if j.Analysis == "survival" {
		return w.computePooledCox(ctx, j, site, t, rel, v, sr)
	}
	if j.Analysis == "boosted_trees" {
		return w.computePooledTrees(ctx, j, site, t, rel, v, sr)
	}
	var p regressionParams
	if err := decodeParams(j.Params, &p); err != nil {
		return "", nil, err
	}
	if err := jobparams.PooledRules(&p); err != nil {
		return "", nil, err
	}
	spec := j.Study.Spec
	private := spec.Private != nil
	if private != (p.Private != nil) {
		return "", nil, &analysis.ParamError{Param: "private", Reason: "the study's spec and the job's params disagree on whether the fit is private"}
	}
	if !private {
		// An exact study: refuse it before contributing anything if this
		// site's policy does not allow exact regressions.
		if err := exactAllowed(rel); err != nil {
			return "", nil, err
		}
	} else if rel.Policy.EpsilonMilli == 0 {
		return "", nil, &analysis.ParamError{Param: "private", Reason: "the job has no epsilon at this site"}
	}
	if p.Link == "" {
		p.Link = analysis.Logit
	}
	if string(p.Link) != spec.Link {
		return "", nil, &analysis.ParamError{Param: "link", Reason: fmt.Sprintf("the study was declared with link %q", spec.Link)}
	}
	// The cohort's counts first, before any derived term is evaluated.
	n, events, err := t.FactorCompleteCases(p.Outcome, p.Features, p.Factors, p.Filter)
	if err != nil {
		return "", nil, err
	}
	if err := rel.CheckCounts(int64(n), int64(events), p.Link); err != nil {
		return "", nil, err
	}
	d, err := analysis.NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
	if err != nil {
		return "", nil, err
	}
	if d.P() != int(spec.Columns) {
		return "", nil, &analysis.ParamError{Param: "study.columns", Reason: fmt.Sprintf("the design has %d columns, the study declares %d", d.P(), spec.Columns)}
	}
	// Output controls on this site's own cohort, before anything else is
	// computed from it and before anything leaves.
	if err := rel.CheckRegressionRules(d, p.Link); err != nil {
		return "", nil, err
	}
	if err := w.checkOverlap(site, j.ID, v, t, d.Rows(), studyGroup(j)); err != nil {
		return "", nil, err
	}
	// What the steps are computed on: the features scaled to [−1, 1] by the
	// requester's bounds (private), or clamped to the study's declared
	// bounds (exact). Clamping, rather than refusing rows beyond a bound,
	// keeps the researcher's choice of bounds from probing the data; with
	// the plausible ranges PlanStudy declares, ingest has already kept
	// every value within them.
	var work *analysis.Design
	if private {
		work, err = d.Scaled(p.Private.Bounds, nil)
	} else {
		work, err = d.ClampAbs(studyMaxAbs(spec))
	}
	if err != nil {
		return "", nil, err
	}

	view, err := sr.Study(ctx, j.ID)
	if err != nil {
		return "", nil, err
	}
	st := view.Study
	if !slices.Contains(st.Participants, site.Dataset) {
		return "", nil, errNotMine
	}
	var fit *fitState
	if private {
		fit, err = replayPrivate(view.Sums, d.P(), int(spec.Private.Rounds), func(participants []string) float64 {
			return outputctl.PooledInformationFloor(d.P(), siteEpsilons(j, participants), spec.NoiseShares())
		})
	} else {
		// Each site rounds each value of its step to the fixed-point grid
		// (half a unit at most): replay judges convergence by what the
		// sums can resolve, from each sum's own participants.
		perSite := math.Ldexp(1, -int(federated.FracBits)-1)
		fit, err = replay(view.Sums, d.P(), analysis.SolverOptions{MaxIter: p.MaxIter, Tol: p.Tol, Names: d.Names(), Resolution: perSite}, st.Round, restartPerturbation(j.ID, spec), nil)
	}
	if err != nil {
		return "", nil, err
	}
	if st.Done {
		if private {
			return w.releasePooledPrivate(j, d, p, spec, fit, rel)
		}
		return w.releasePooled(d, p, spec, fit, rel)
	}
	return w.postContribution(ctx, j, site, sr, view, fit.phase, rel, func(rel *outputctl.Releaser) ([]int64, error) {
		var values []int64
		switch {
		case fit.phase == federated.PhaseStep:
			var step analysis.NewtonStep
			if private {
				step, err = rel.PooledStep(work, fit.beta, spec.NoiseShares())
			} else {
				step, err = analysis.LocalStep(work, fit.beta, p.Link)
			}
			if err != nil {
				return nil, err
			}
			// Counts are summed once, in the final iteration.
			step.N, step.Events = 0, 0
			fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
			if values, err = fp.Encode(step); err != nil {
				return nil, refuse("analysis_error", err)
			}
		case private:
			n, events, err := rel.PooledCounts(int64(d.N()), int64(d.Events()), spec.NoiseShares())
			if err != nil {
				return nil, err
			}
			values = []int64{n, events}
		default:
			n, events, err := rel.NoisyCounts(int64(d.N()), int64(d.Events()), federated.CountUnits, spec.CountShare(site.EpsilonMilli))
			if err != nil {
				return nil, err
			}
			values = []int64{n, events}
		}
		if fit.phase == federated.PhaseFinal && spec.Bins > 0 {
			// The diagnostics' histogram at the final coefficients, noisy (its
			// sum is public): on the design the steps were computed on.
			h, err := rel.PooledHistogram(work, fit.beta, p.Link, spec, spec.HistogramShare(site.EpsilonMilli))
			if err != nil {
				return nil, err
			}
			values = append(values, h...)
		}
		return values, nil
	})
}

// postContribution posts a site's contribution to the current iteration
// of a study (errStepPosted), reports that it is waiting (errWaiting), or
// advances a study past a missed deadline (errAdvanced). values computes
// the contribution, with a Releaser whose noise is keyed to the
// iteration.
func (w *Worker) postContribution(ctx context.Context, j *ledger.Job, site ledger.JobSite, sr StudyReader, view *api.StudyView, phase string, rel *outputctl.Releaser,
	values func(rel *outputctl.Releaser) ([]int64, error)) (ReleaseKind, any, error) {
	st := view.Study
	spec := j.Study.Spec
	status, err := w.Ledger.Status(ctx)
	if err != nil {
		return "", nil, err
	}
	posted := slices.Contains(view.Posted, site.Dataset)
	if status.Height > st.Deadline && posted {
		// A site that contributed in time advances the study past the
		// ones that did not (a late site would only drop itself).
		if err := w.submit(ctx, &ledger.AdvanceStudy{Job: j.ID}); err != nil {
			var ce *client.Error
			if errors.As(err, &ce) && ce.Code == uint32(ledger.CodeInvalidState) {
				return "", nil, errWaiting // another site advanced it first
			}
			return "", nil, err
		}
		return "", nil, errAdvanced
	}
	if posted {
		return "", nil, errWaiting
	}
	// Every noisy value a site posts for an iteration is drawn from a
	// source keyed by the job, iteration, phase and site: a restarted round
	// reposts the same noisy values for the same quantities rather than
	// fresh draws that could be averaged.
	noisy := *rel
	if noisy.Noise, err = w.studyNoise(status.ChainID, j.ID, st.Iteration, phase, site); err != nil {
		return "", nil, err
	}
	rel = &noisy
	vals, err := values(rel)
	if err != nil {
		return "", nil, err
	}
	peers, self, err := w.studyPeers(ctx, sr, j, st.Participants, site.Dataset)
	if err != nil {
		return "", nil, err
	}
	dv, err := w.Ledger.DatasetVersion(ctx, site.Dataset, site.Version)
	if err != nil {
		return "", nil, err
	}
	bounds, err := spec.Bounds(phase, site.MinCohort, ledger.BandTop(dv.RecordBand), site.EpsilonMilli)
	if err != nil {
		return "", nil, refuse("analysis_error", err)
	}
	sess := federated.Session{ChainID: status.ChainID, Job: j.ID, Round: st.Round, Iteration: st.Iteration, Phase: phase}
	c, err := federated.Contribute(w.Key.Enc, self, peers, sess, vals, bounds, rand.Reader)
	if errors.Is(err, federated.ErrOutOfBounds) {
		// The design's bounds were checked above; a step outside them is
		// a fixed-point overflow or a record band the data outgrew.
		return "", nil, refuse("analysis_error", fmt.Errorf("the site's contribution is outside the study's bounds (%v)", err))
	}
	if err != nil {
		return "", nil, err
	}
	msg := &ledger.PostContribution{Job: j.ID, Dataset: site.Dataset, Round: st.Round, Iteration: st.Iteration, Phase: phase, Contribution: *c}
	if err := w.submit(ctx, msg); err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && (ce.Code == uint32(ledger.CodeExpired) || ce.Code == uint32(ledger.CodeInvalidState)) {
			// The iteration's deadline passed or the round moved on while
			// this contribution was in flight: the next run sees where
			// the study stands (its masks are never reused).
			return "", nil, errWaiting
		}
		return "", nil, err
	}
	w.log().Info("study contribution", "job", j.ID, "dataset", site.Dataset, "round", st.Round, "iteration", st.Iteration, "phase", phase)
	return "", nil, errStepPosted
}

// studyPeers lists the round's participants with their workers' keys.
func (w *Worker) studyPeers(ctx context.Context, sr StudyReader, j *ledger.Job, participants []string, self string) ([]federated.Peer, int, error) {
	var peers []federated.Peer
	me := -1
	for _, d := range participants {
		i := slices.IndexFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == d })
		if i < 0 {
			return nil, 0, fmt.Errorf("study participant %q is not a site of job %d", d, j.ID)
		}
		a, err := sr.Account(ctx, j.Sites[i].StudyWorker)
		if err != nil {
			return nil, 0, err
		}
		if d == self {
			me = len(peers)
		}
		peers = append(peers, federated.Peer{Site: d, Key: a.EncKey})
	}
	if me < 0 {
		return nil, 0, errNotMine
	}
	return peers, me, nil
}

// studyMaxAbs is the study's declared bound of each feature column, in
// the features' units.
func studyMaxAbs(spec federated.Spec) []float64 {
	out := make([]float64, len(spec.MaxAbs)-1)
	for j := range out {
		out[j] = math.Ldexp(float64(spec.MaxAbs[j+1]), -federated.MaxAbsUnit)
	}
	return out
}

// releasePooled builds the pooled regression from the replayed fit and the
// final sum, and releases it through this site's output controls.
func (w *Worker) releasePooled(d *analysis.Design, p regressionParams, spec federated.Spec, fit *fitState, rel *outputctl.Releaser) (ReleaseKind, any, error) {
	if len(fit.final) != spec.FinalLen() {
		return "", nil, refuse("analysis_error", errors.New("the study's final sum is missing"))
	}
	cov, err := analysis.Covariance(fit.at)
	if err != nil {
		return "", nil, err
	}
	names := d.Names()
	// The pooled counts are noisy (public sums); keep them consistent.
	n, events := rel.ConsistentCounts(fit.final[0], fit.final[1])
	reg := analysis.Regression{
		Link: p.Link, Outcome: d.Outcome, StatName: "z", RatioName: p.Link.RatioName(),
		N: n, Events: events, LogLik: fit.at.LogLik,
		Coefficients: analysis.WaldTable(names, fit.beta, cov, p.Link),
		Iterations:   fit.iters, Tol: max(p.Tol, 0),
		Model: analysis.Model{Link: p.Link, Features: d.Features, Factors: d.Factors, Intercept: fit.beta[0], Coefficients: slices.Clone(fit.beta[1:])},
	}
	if reg.Tol == 0 {
		reg.Tol = analysis.DefaultTol
	}
	// The small-group rule on 0/1 features: each site checks its own rows
	// (the pooled counts are not summed), which is stricter than checking
	// the pooled groups.
	for jf := range d.Features {
		reg.Coefficients[jf+1].Levels = d.Levels(jf)
	}
	diag := rel.ReleasePooledDiagnostics(fit.final[2:], int(spec.Bins))
	if diag != nil {
		reg.AUC, reg.Calibration = diag.AUC, diag.Calibration
	}
	out, err := rel.ReleaseRegression(reg)
	if err != nil {
		return "", nil, err
	}
	return KindPooledRegression, PooledRelease{RegressionRelease: out, Diagnostics: diag}, nil
}

// PooledRelease is the release of a pooled fit (release_kind
// "pooled_regression"): an outputctl.RegressionRelease of the model fitted
// on every remaining site's consented rows, with diagnostics from the
// sites' summed noisy risk-bin histograms (AUC and calibration also set in
// the regression; no Hosmer–Lemeshow statistic or ROC curve).
type PooledRelease struct {
	outputctl.RegressionRelease
	Diagnostics *outputctl.PooledDiagnostics `json:"diagnostics,omitempty"`
}

// PooledPrivateRelease is the release of a private study (release_kind
// "pooled_private_regression").
type PooledPrivateRelease struct {
	outputctl.PrivateRegressionRelease
	Diagnostics *outputctl.PooledDiagnostics `json:"diagnostics,omitempty"`
}
