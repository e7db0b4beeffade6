package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/overlap"
	"github.com/medchain/medchain/sandbox"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/column"
)

// Backend is what a worker needs from the ledger: the reads it re-checks
// jobs against, and transaction submission. *client.Client implements it.
type Backend interface {
	Status(ctx context.Context) (*api.NodeStatus, error)
	Jobs(ctx context.Context, f client.JobFilter) ([]ledger.Job, error)
	Job(ctx context.Context, id uint64) (*ledger.Job, error)
	Worker(ctx context.Context, addr string) (*ledger.Worker, error)
	DatasetVersion(ctx context.Context, id string, version uint64) (*ledger.DatasetVersion, error)
	// AllConsents reads, in state key order (by patient address, each
	// patient's oldest first), every consent that concerns the worker's
	// institution, as GET /v1/consents serves them to a request signed
	// by the worker's key.
	AllConsents(ctx context.Context, as *keys.Key) ([]ledger.Consent, error)
	SignAndSubmit(ctx context.Context, key *keys.Key, msg ledger.Msg, wait bool) (*api.TxSubmitted, error)
}

var _ Backend = (*client.Client)(nil)

// Worker is one institution's compute worker.
type Worker struct {
	Key         *keys.Key    // the worker account's key (signs results; its X25519 key opens data keys)
	Org         string       // the organisation it works for
	Measurement string       // what it runs: must equal its registered measurement
	Vault       *vault.Vault // the institution's vault
	Ledger      Backend
	Results     *ResultStore
	Noise       outputctl.Source // randomness for DP noise; nil = crypto/rand
	Log         *slog.Logger     // nil = discard; never given record-level values
	// Overlap keeps the institution's record of the cohorts it released
	// (query-set-overlap control); nil = the store in the vault's
	// overlap/<org> directory, under a key derived from the vault secret.
	Overlap *overlap.Store
	// StudyNoiseKey keys the noise of the worker's study contributions
	// (32 bytes); nil = derived from the vault secret. Tests fix it to make
	// a study's noisy diagnostics reproducible.
	StudyNoiseKey []byte
	// Modules holds the custom analysis modules the institution installed;
	// nil = the vault's modules directory (sandbox.Dir).
	Modules Modules
	// Sandbox runs them; nil = one engine shared by the process's workers.
	Sandbox *sandbox.Engine
	// PooledTrees lets the worker take part in boosted-trees studies over
	// several datasets. Off by default: a round opens each node's pooled
	// gradient, Hessian and count histograms bin by bin, and a public bin
	// that holds one row across the sites (an extreme age, say) opens that
	// row's gradient, which with the public model so far gives its outcome.
	// Until the bins are released under a per-bin rule (a pooled count
	// opened first, or each site's small bins withheld), workers refuse
	// trees studies before reading any data, free; the protocol's tests
	// turn it on. A boosted-trees job on one dataset is unaffected.
	PooledTrees bool
}

// Outcome is what the worker did with one site of a job.
type Outcome struct {
	Job     uint64 `json:"job"`
	Dataset string `json:"dataset"`
	Action  string `json:"action"`           // posted, failed, skipped
	Reason  string `json:"reason,omitempty"` // a fail reason, or why it was skipped
	Hash    string `json:"result_hash,omitempty"`
}

// Errors RunOnce stops on: the worker must not run.
var (
	ErrNotRegistered = errors.New("the worker key is not a registered worker")
	ErrMeasurement   = errors.New("the worker's measurement differs from its registration")
)

func (w *Worker) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// checkRegistration re-reads the worker's registration.
func (w *Worker) checkRegistration(ctx context.Context) (*ledger.Worker, error) {
	reg, err := w.Ledger.Worker(ctx, w.Key.Address())
	if client.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, w.Key.Address())
	}
	if err != nil {
		return nil, err
	}
	if reg.Org != w.Org {
		return nil, fmt.Errorf("%w: %s is registered for %q, not %q", ErrNotRegistered, w.Key.Address(), reg.Org, w.Org)
	}
	if reg.Measurement != w.Measurement {
		return nil, fmt.Errorf("%w: registered %s, running %s", ErrMeasurement, reg.Measurement, w.Measurement)
	}
	return reg, nil
}

// RunOnce handles every admitted job with a site of the worker's
// organisation that has no result yet. A site whose analysis is refused
// fails the job (fail_job); a transient error (ledger unreachable, disk)
// leaves the job for the next run and is returned.
func (w *Worker) RunOnce(ctx context.Context) ([]Outcome, error) {
	reg, err := w.checkRegistration(ctx)
	if err != nil {
		return nil, err
	}
	jobs, err := w.Ledger.Jobs(ctx, client.JobFilter{Status: ledger.JobAdmitted})
	if err != nil {
		return nil, err
	}
	var out []Outcome
	var errs []error
	if err := w.postPendingReceipts(ctx); err != nil {
		errs = append(errs, err)
	}
	consents := &runConsents{} // per run: consents change between runs
	for _, j := range jobs {
		for _, s := range j.Sites {
			if s.Org != w.Org || s.Result != nil {
				continue
			}
			o, err := w.runSite(ctx, reg, j.ID, s.Dataset, consents)
			if err != nil {
				w.log().Warn("job site not done; will retry", "job", j.ID, "dataset", s.Dataset, "err", err)
				errs = append(errs, fmt.Errorf("job %d %s: %w", j.ID, s.Dataset, err))
				continue
			}
			w.log().Info("job site", "job", o.Job, "dataset", o.Dataset, "action", o.Action, "reason", o.Reason, "result_hash", o.Hash)
			out = append(out, o)
			if o.Action == "failed" {
				break // the job is closed
			}
		}
	}
	return out, errors.Join(errs...)
}

// refusal is an analysis or data refusal that fails the job with a reason.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.reason + ": " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(reason string, err error) error { return &refusal{reason, err} }

// failReason maps an error of the data or analysis path to a fail_job
// reason, or "" for an error that may go away (retry).
func failReason(err error) string {
	var r *refusal
	var pe *analysis.ParamError
	switch {
	case errors.As(err, &r):
		return r.reason
	case errors.Is(err, outputctl.ErrBelowMinCohort), errors.Is(err, outputctl.ErrTooFewEvents), errors.Is(err, outputctl.ErrSmallGroup):
		return "cohort_too_small"
	case errors.Is(err, overlap.ErrOverlap):
		return "cohort_overlap"
	case errors.Is(err, outputctl.ErrBudgetExhausted):
		return "resource_exhausted"
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrNotRecipient):
		return "data_unavailable"
	case errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrRootMismatch):
		return "integrity_error"
	case errors.Is(err, federated.ErrBadPeers):
		// A participant's worker key cannot make masks. Retrying cannot
		// help; and the site meets this only after its cohort passed the
		// release rules, so the refusal is charged like any other made
		// after reading data (a free one would tell that it passed).
		return "analysis_error"
	case errors.As(err, &pe), errors.Is(err, analysis.ErrSeparation), errors.Is(err, analysis.ErrSingular),
		errors.Is(err, analysis.ErrNotConverged), errors.Is(err, analysis.ErrTooFewRows),
		errors.Is(err, outputctl.ErrNoPrivateRegression), errors.Is(err, outputctl.ErrNoiseTooLarge), errors.Is(err, outputctl.ErrNeedsBounds):
		return "analysis_error"
	}
	return ""
}

func (w *Worker) runSite(ctx context.Context, reg *ledger.Worker, id uint64, dataset string, consents *runConsents) (Outcome, error) {
	o := Outcome{Job: id, Dataset: dataset}
	// Re-check against the ledger: still admitted, still without a result,
	// before its deadline, on the version the ledger published.
	j, err := w.Ledger.Job(ctx, id)
	if err != nil {
		return o, err
	}
	i := slices.IndexFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == dataset })
	if j.Status != ledger.JobAdmitted || i < 0 || j.Sites[i].Result != nil {
		o.Action, o.Reason = "skipped", "no longer pending"
		return o, nil
	}
	site := j.Sites[i]
	st, err := w.Ledger.Status(ctx)
	if err != nil {
		return o, err
	}
	if st.Height >= j.Deadline {
		o.Action, o.Reason = "skipped", "deadline passed"
		return o, nil
	}
	if !ledger.AttestationSatisfies(site.Attestation, reg.Attestation) {
		o.Action, o.Reason = "skipped", "the policy demands "+site.Attestation+" attestation"
		return o, nil
	}
	ct, rel, err := w.compute(ctx, reg, j, site, consents)
	switch {
	case errors.Is(err, errStepPosted):
		o.Action, o.Reason = "contributed", "posted its masked contribution to the study"
		return o, nil
	case errors.Is(err, errWaiting):
		o.Action, o.Reason = "skipped", "waiting for the other sites' contributions"
		return o, nil
	case errors.Is(err, errAdvanced):
		o.Action, o.Reason = "advanced", "an iteration's deadline passed; the sites that missed it were dropped"
		return o, nil
	case errors.Is(err, errNotMine):
		o.Action, o.Reason = "skipped", "another worker contributes for this site, or the site left the study"
		return o, nil
	}
	if reason := failReason(err); reason != "" {
		w.log().Info("job refused", "job", id, "dataset", dataset, "reason", reason, "err", err)
		return w.fail(ctx, o, reason, refusalOf(err))
	} else if err != nil {
		return o, err
	}
	// The release's receipts and earnings are recorded before the result
	// is posted, and the receipts posted right behind it (receipts.go).
	set, err := w.receiptSet(ctx, st.ChainID, j, site, rel)
	if err != nil {
		return o, err
	}
	if err := w.recordRelease(j, site, rel, set); err != nil {
		return o, err
	}
	hash, err := w.Results.Put(ct)
	if err != nil {
		return o, err
	}
	msg := &ledger.PostResult{Job: id, Dataset: dataset, ContentRoot: site.ContentRoot, Measurement: reg.Measurement,
		ResultHash: hash, Locator: Locator(hash)}
	if set == nil {
		err = w.submit(ctx, msg) // no receipts for the band (docs/patients.md)
	} else {
		err = w.postResultWithReceipts(ctx, msg, set)
	}
	if err != nil {
		return o, err
	}
	o.Action, o.Hash = "posted", hash
	return o, nil
}

// refusalOf is what the ledger records of a params refusal: the code, the
// parameter's path (when it is one the ledger accepts: an unknown key may
// be any text the requester typed) and the schema column. A parameter the
// data refused (analysis_error: the log of a value that is not positive)
// is recorded as bad_value with its path only.
func refusalOf(err error) *ledger.Refusal {
	var e *jobparams.Error
	var pe *analysis.ParamError
	var r *ledger.Refusal
	switch {
	case errors.As(err, &e):
		r = &ledger.Refusal{Code: string(e.Code), Param: e.Param, Column: e.Column}
	case errors.As(err, &pe) && failReason(err) == "analysis_error":
		r = &ledger.Refusal{Code: string(jobparams.BadValue), Param: pe.Param}
	default:
		return nil
	}
	if !ledger.ValidRefusalParam(r.Param) {
		r.Param = ""
	}
	return r
}

func (w *Worker) fail(ctx context.Context, o Outcome, reason string, refusal *ledger.Refusal) (Outcome, error) {
	if err := w.submit(ctx, &ledger.FailJob{Job: o.Job, Dataset: o.Dataset, Reason: reason, Refusal: refusal}); err != nil {
		return o, err
	}
	o.Action, o.Reason = "failed", reason
	return o, nil
}

func (w *Worker) submit(ctx context.Context, msg ledger.Msg) error {
	r, err := w.Ledger.SignAndSubmit(ctx, w.Key, msg, true)
	if err != nil {
		return fmt.Errorf("%s: %w", msg.Type(), err)
	}
	if err := client.ResultError(r); err != nil {
		return fmt.Errorf("%s: %w", msg.Type(), err)
	}
	return nil
}

// compute opens the data, filters by consent, runs the analysis, releases
// and encrypts; it also returns the release's cohort (pseudonyms) and the
// version's band, for receipts and rewards. Everything decrypted stays in this function's memory.
func (w *Worker) compute(ctx context.Context, reg *ledger.Worker, j *ledger.Job, site ledger.JobSite, consents *runConsents) ([]byte, *released, error) {
	dv, err := w.Ledger.DatasetVersion(ctx, site.Dataset, site.Version)
	if client.IsNotFound(err) {
		return nil, nil, refuse("data_unavailable", fmt.Errorf("dataset %s version %d is not on the ledger", site.Dataset, site.Version))
	}
	if err != nil {
		return nil, nil, err
	}
	if dv.ContentRoot != site.ContentRoot {
		return nil, nil, refuse("integrity_error", fmt.Errorf("dataset %s version %d: the ledger's root differs from the job's", site.Dataset, site.Version))
	}
	// Params that do not fit the analysis or the schema are refused before
	// any data is read, by the check the CLI and the API make before a job
	// is signed; the refusal (invalid_params) costs the requester nothing.
	if err := jobparams.Check(j.Analysis, j.Params, dv.Schema); err != nil {
		return nil, nil, refuse("invalid_params", err)
	}
	params := j.Params
	if j.Analysis == "boosted_trees" {
		if params, err = treesParams(j.Params, dv.Schema); err != nil {
			return nil, nil, refuse("invalid_params", err)
		}
	}
	if j.Analysis == "boosted_trees" && pooled(j) && !w.PooledTrees {
		return nil, nil, refuse("invalid_params", errors.New("analysis: boosted-trees studies over several datasets are switched off at this site: a round would open single rows' gradients in sparse bins; run boosted_trees on each dataset alone"))
	}
	if pooled(j) {
		// A pooled Cox model's grid is one of the public grids: refused
		// here, before the data is opened, the answer is everyone's.
		if err := jobparams.CheckStudy(j.Analysis, j.Params); err != nil {
			return nil, nil, refuse("invalid_params", err)
		}
	}
	code, custom := strings.CutPrefix(j.Analysis, "code:")
	var wasm []byte
	if custom {
		if wasm, err = w.module(code); err != nil {
			return nil, nil, err
		}
	}
	// An opt-in site whose patients' public consents permit nothing has no
	// rows for the job: refused before any data is read (and, in a pooled
	// study, before its first iteration), with that reason.
	if site.Model == ledger.ConsentOptIn {
		all, err := consents.get(ctx, w.Ledger, w.Key)
		if err != nil {
			return nil, nil, err
		}
		if q := consentQuery(j, site); ledger.NobodyConsents(all, q) {
			return nil, nil, refuse("no_consent", fmt.Errorf("dataset %s is opt-in and no patient's consent permits %s as of height %d", site.Dataset, q.Purpose, q.Height))
		}
	}
	id, err := vault.NewIdentity(w.Key.Enc)
	if err != nil {
		return nil, nil, err
	}
	v, err := w.Vault.Open(site.Dataset, site.Version, site.ContentRoot, id)
	if err != nil {
		return nil, nil, err
	}
	keep, err := w.consentMask(ctx, v, j, site, consents)
	if err != nil {
		return nil, nil, err
	}
	t, err := LoadTable(v)
	if err != nil {
		return nil, nil, err
	}
	if t, err = t.Where(keep); err != nil {
		return nil, nil, err
	}
	// The cohort the job's filter selects is checked against the minimum
	// before anything else is computed from it, so that no other refusal
	// (a parameter that does not fit the data, separation, a bound) can
	// say something about a cohort too small to be released.
	if err := filterCohortLargeEnough(t, j.Params, int64(site.MinCohort)); err != nil {
		return nil, nil, err
	}
	noise := w.Noise
	if noise == nil {
		noise = outputctl.CryptoSource()
	}
	rel := &outputctl.Releaser{
		// The data holder decides on the ledger whether regressions may be
		// released exactly (the policy's exact_regression, snapshotted into
		// the site at admission); without it an exact regression under a
		// positive epsilon is refused (ErrNoPrivateRegression → analysis_error).
		Policy: outputctl.Policy{MinCohort: int64(site.MinCohort), EpsilonMilli: site.EpsilonMilli, ExactRegression: site.ExactRegression},
		Budget: &outputctl.Budget{TotalMilli: site.EpsilonMilli},
		Noise:  noise,
	}
	var kind ReleaseKind
	var release any
	if pooled(j) {
		kind, release, err = w.computePooled(ctx, j, site, t, rel, v)
	} else if custom {
		kind, release, err = runCustom(ctx, w.engine(), t, code, wasm, j.Params, rel, outputctl.CryptoSource())
		if err == nil {
			err = w.checkCohortOverlap(site, j, t, v)
		}
	} else {
		kind, release, err = runAnalysis(t, j.Analysis, params, rel)
		if err == nil {
			err = w.checkCohortOverlap(site, j, t, v)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(release)
	if err != nil {
		return nil, nil, err
	}
	res := &Result{Format: ResultFormat, Job: j.ID, Dataset: site.Dataset, Version: site.Version, ContentRoot: site.ContentRoot,
		Analysis: j.Analysis, Purpose: j.Purpose, ConsentModel: site.Model, ConsentAsOf: j.Admitted,
		Worker: w.Key.Address(), Measurement: reg.Measurement, MinCohort: site.MinCohort, EpsilonMilli: site.EpsilonMilli,
		Release: body, ReleaseKind: kind}
	rows, err := cohortRows(j, t)
	if err != nil {
		return nil, nil, err
	}
	cohort, err := cohortPseudonyms(v, rows)
	if err != nil {
		return nil, nil, err
	}
	ct, err := EncryptResult(res, j.ResultKey)
	return ct, &released{cohort: cohort, band: dv.RecordBand}, err
}

// filterCohortLargeEnough refuses a job whose filter keeps fewer consented
// rows than the minimum cohort (ErrBelowMinCohort, whatever the count).
func filterCohortLargeEnough(t *analysis.Table, params json.RawMessage, minCohort int64) error {
	var p struct {
		Filter analysis.Filter `json:"filter"`
	}
	_ = json.Unmarshal(params, &p) // the analysis decodes its params strictly
	rows, err := t.Select(p.Filter)
	if err != nil {
		return err
	}
	var n int64
	for _, keep := range rows {
		if keep {
			n++
		}
	}
	if n < minCohort {
		return fmt.Errorf("%w of %d rows (the filter's cohort)", outputctl.ErrBelowMinCohort, minCohort)
	}
	return nil
}

// runConsents is the ledger's consents for one run of the worker, read
// (GET /v1/consents) when a site first needs them: one bulk read instead
// of one request per linked patient.
type runConsents struct {
	loaded bool
	all    []ledger.Consent // by patient, each patient's oldest first
}

func (rc *runConsents) get(ctx context.Context, b Backend, as *keys.Key) ([]ledger.Consent, error) {
	if !rc.loaded {
		all, err := b.AllConsents(ctx, as)
		if err != nil {
			return nil, err
		}
		rc.all, rc.loaded = all, true
	}
	return rc.all, nil
}

// consentMask decides, row by row, whether the row's patient's consent
// allows the job (ledger.ConsentAllows as of the admission height). A row
// whose pseudonym is not linked, or whose wallet has no consents, is
// decided by the consent model alone.
func (w *Worker) consentMask(ctx context.Context, v *vault.Version, j *ledger.Job, site ledger.JobSite, consents *runConsents) ([]bool, error) {
	id, err := vault.NewIdentity(w.Key.Enc)
	if err != nil {
		return nil, err
	}
	links, err := w.Vault.Links(site.Org, id) // shared with this worker by the institution (vault.LinkPatient)
	if err != nil {
		return nil, err
	}
	q := consentQuery(j, site)
	// A patient without consents, or unlinked, gets the model's default;
	// only patients whose consents decide otherwise need a per-row look-up.
	// So decide once per wallet with consents, keep the wallets that differ
	// from the default, and the pseudonyms linked to them: in the common
	// case (consents agree with the model) the row loop looks up an
	// (almost) empty set.
	def := ledger.ConsentAllows(nil, q)
	var flip map[string]struct{} // pseudonyms whose row is !def
	if len(links.Links) > 0 {
		all, err := consents.get(ctx, w.Ledger, w.Key)
		if err != nil {
			return nil, err
		}
		differ := map[string]struct{}{}
		for len(all) > 0 { // one patient's consents at a time
			n := 1
			for n < len(all) && all[n].Patient == all[0].Patient {
				n++
			}
			if ledger.ConsentAllows(all[:n], q) != def {
				differ[all[0].Patient] = struct{}{}
			}
			all = all[n:]
		}
		if len(differ) > 0 {
			flip = map[string]struct{}{}
			for _, l := range links.Links {
				if _, ok := differ[l.Wallet]; ok {
					flip[l.Pseudonym] = struct{}{}
				}
			}
		}
	}
	links = nil
	keep := make([]bool, 0, v.NumRows())
	for c, err := range v.Pseudonyms() {
		if err != nil {
			return nil, err
		}
		if len(flip) == 0 {
			for range c.Rows {
				keep = append(keep, def)
			}
			continue
		}
		for _, p := range c.Strs[:c.Rows] {
			_, ok := flip[p]
			keep = append(keep, def != ok)
		}
	}
	return keep, nil
}

// consentQuery is what a site's consents are decided by: its dataset and
// organisation, the job's purpose and model, as of the job's admission.
func consentQuery(j *ledger.Job, site ledger.JobSite) ledger.ConsentQuery {
	return ledger.ConsentQuery{Dataset: site.Dataset, Org: site.Org, Purpose: j.Purpose, Height: j.Admitted, Time: j.AdmittedTime, Model: site.Model}
}

// LoadTable reads every column of the version into an analysis table:
// numbers as they are, booleans as 0/1, and code and string columns as
// dictionaries (usable only as factors of a regression). It is exported
// so that tests can fit the same rows centrally and compare with what the
// workers release.
func LoadTable(v *vault.Version) (*analysis.Table, error) {
	n := int(v.NumRows())
	var cols []analysis.Column
	for _, f := range v.Schema() {
		col := analysis.Column{Name: f.Name, Values: make([]float64, 0, n), Valid: make([]bool, 0, n)}
		var dict map[string]int
		if f.Type == "code" || f.Type == "string" {
			dict, col.Levels = map[string]int{}, []string{}
		}
		for c, err := range v.Column(f.Name) {
			if err != nil {
				return nil, err
			}
			for r := 0; r < c.Rows; r++ {
				ok := c.Valid(r)
				x := 0.0
				switch c.Encoding {
				case column.Float64:
					x = c.Nums[r]
				case column.Bool:
					if c.Bools[r] {
						x = 1
					}
				case column.String:
					if ok && dict != nil {
						s := c.Strs[r]
						i, seen := dict[s]
						if !seen {
							i = len(col.Levels)
							dict[s] = i
							col.Levels = append(col.Levels, s)
						}
						x = float64(i)
					}
				}
				col.Values = append(col.Values, x)
				col.Valid = append(col.Valid, ok)
			}
		}
		cols = append(cols, col)
	}
	if len(cols) == 0 {
		return nil, refuse("analysis_error", errors.New("the dataset has no columns"))
	}
	return analysis.NewTable(cols...)
}

// decodeParams decodes a job's params strictly.
func decodeParams(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &analysis.ParamError{Param: "params", Reason: err.Error()}
	}
	return nil
}

// regressionParams are the params of a regression job.
type regressionParams = jobparams.Regression

// exactAllowed refuses an exact regression, before any fitting, when the
// policy has an epsilon and does not allow exact regressions (the ledger
// policy's exact_regression); the job must then ask for a private fit.
// outputctl.ReleaseRegression applies the same rule at release.
func exactAllowed(r *outputctl.Releaser) error {
	if r.Policy.EpsilonMilli > 0 && !r.Policy.ExactRegression {
		return fmt.Errorf("%w: the dataset's policy does not set exact_regression; request a private fit (params \"private\")", outputctl.ErrNoPrivateRegression)
	}
	return nil
}

// runAnalysis runs a built-in analysis and releases its result.
func runAnalysis(t *analysis.Table, name string, params json.RawMessage, r *outputctl.Releaser) (ReleaseKind, any, error) {
	switch name {
	case "cohort_count":
		var p analysis.CountParams
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		res, err := analysis.Count(t, p)
		if err != nil {
			return "", nil, err
		}
		rel, err := r.ReleaseCount(res)
		return KindCount, rel, err
	case "crosstab":
		var p analysis.CrossTabParams
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		res, err := analysis.CrossTabulate(t, p)
		if err != nil {
			return "", nil, err
		}
		rel, err := r.ReleaseCrossTab(res)
		return KindCrosstab, rel, err
	case "descriptive":
		var p analysis.DescribeParams
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		res, err := analysis.Describe(t, p)
		if err != nil {
			return "", nil, err
		}
		rel, err := r.ReleaseDescription(res)
		return KindDescription, rel, err
	case "logistic_regression", "linear_regression":
		var p regressionParams
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		if err := p.Normalise(name); err != nil {
			return "", nil, &analysis.ParamError{Param: err.Param, Reason: err.Message}
		}
		if p.Private != nil {
			n, events, err := t.FactorCompleteCases(p.Outcome, p.Features, p.Factors, p.Filter)
			if err != nil {
				return "", nil, err
			}
			if err := r.CheckCounts(int64(n), int64(events), p.Link); err != nil {
				return "", nil, err
			}
			d, err := analysis.NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
			if err != nil {
				return "", nil, err
			}
			rel, err := r.RegressPrivate(d, p.Link, *p.Private)
			return KindPrivateRegression, rel, err
		}
		if err := exactAllowed(r); err != nil {
			return "", nil, err
		}
		// The release's cohort rules on the complete cases come before the
		// fit — the counts before any derived term is evaluated — so a
		// term error, a separation or a singularity never speaks for a
		// cohort that could not be released.
		n, events, err := t.FactorCompleteCases(p.Outcome, p.Features, p.Factors, p.Filter)
		if err != nil {
			return "", nil, err
		}
		if err := r.CheckCounts(int64(n), int64(events), p.Link); err != nil {
			return "", nil, err
		}
		d, err := analysis.NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
		if err != nil {
			return "", nil, err
		}
		if err := r.CheckRegressionRules(d, p.Link); err != nil {
			return "", nil, err
		}
		res, err := analysis.Regress(t, p.RegressionParams)
		if err != nil {
			return "", nil, err
		}
		rel, err := r.ReleaseRegression(res)
		return KindRegression, rel, err
	case "boosted_trees":
		var p gbt.Params
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		p, err := p.WithDefaults()
		if err != nil {
			return "", nil, err
		}
		if err := exactAllowed(r); err != nil {
			return "", nil, err
		}
		// The cohort rules on the complete cases first, as for a
		// regression: nothing is trained on a cohort that could not be
		// released.
		n, events, err := t.FactorCompleteCases(p.Outcome, p.Features, nil, nil)
		if err != nil {
			return "", nil, err
		}
		if err := r.CheckCounts(int64(n), int64(events), analysis.Logit); err != nil {
			return "", nil, err
		}
		site, err := gbt.NewSite(t, p)
		if err != nil {
			return "", nil, err
		}
		m, err := gbt.Train([]*gbt.Site{site}, p, r.MinLeaf(), gbt.Plain)
		if errors.Is(err, gbt.ErrSmallLeaf) {
			return "", nil, fmt.Errorf("%w of %d rows", outputctl.ErrBelowMinCohort, r.MinLeaf())
		}
		if err != nil {
			return "", nil, err
		}
		counts, err := site.LeafCounts(m)
		if err != nil {
			return "", nil, err
		}
		auc, err := site.AUC(m)
		if err != nil {
			return "", nil, err
		}
		rel, err := r.ReleaseTrees(m, counts, int64(n), int64(events), auc)
		return KindTrees, rel, err
	}
	if name == "survival" {
		var p analysis.SurvivalParams
		if err := decodeParams(params, &p); err != nil {
			return "", nil, err
		}
		rel, err := runSurvival(t, p, r)
		return KindSurvival, rel, err
	}
	return "", nil, refuse("analysis_error", fmt.Errorf("analysis %q is not supported by this worker", name))
}
