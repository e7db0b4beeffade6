package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Compute: workers and jobs.
//
// A job names datasets, an analysis and its parameters, a purpose, a price
// ceiling and the requester's X25519 result key. Admission checks each
// dataset's policy (purpose, requester or an access grant, analysis,
// expiry), the privacy budget and the requester's funds, then escrows the
// price and charges the budget. Each dataset's institution runs a worker
// that posts a signed result (binding job, dataset root, code measurement
// and result hash); when every site has posted, the job settles by each
// policy's split. A site's worker may fail the job, and after the deadline
// anyone may expire it; either way the requester is refunded in full and the
// budget of every site that released nothing is refunded.

// Job states.
const (
	JobAdmitted  = "admitted"
	JobCompleted = "completed"
	JobFailed    = "failed"
	JobExpired   = "expired"
)

// JobSite is one dataset of a job, as admitted: what the worker must
// compute on and what its institution is paid.
type JobSite struct {
	_            struct{}    `cbor:",toarray"` // stored as an array of its fields (state.go)
	Dataset      string      `json:"dataset"`
	Version      uint64      `json:"version"`
	ContentRoot  string      `json:"content_root"`
	Org          string      `json:"org"`
	Payee        string      `json:"payee"` // the institution account that published the version
	Price        uint64      `json:"price"`
	EpsilonMilli uint64      `json:"epsilon_milli"`
	Split        RewardSplit `json:"reward_split"`
	Attestation  string      `json:"attestation"` // what the policy demands
	MinCohort    uint64      `json:"min_cohort"`
	Model        string      `json:"consent_model"`
	// ExactRegression is the policy's exact_regression at admission.
	ExactRegression bool `json:"exact_regression,omitempty"`
	// MinStudySites is the policy's min_study_sites at admission.
	MinStudySites uint32 `json:"min_study_sites,omitempty"`
	// StudyWorker is, in a pooled study, the worker whose key masks and
	// signs this site's contributions (fixed at admission).
	StudyWorker string `json:"study_worker,omitempty"`
	// Touched is the worker that first computed on this site's data for
	// the job (a contribution, a result, or a refusal made after reading
	// data). A touched site's epsilon is spent and its price is earned,
	// whatever happens to the job.
	Touched string `json:"touched_by,omitempty"`
	// Excluded is "dropped" or "flagged" once a study excluded the site:
	// it is not paid.
	Excluded string     `json:"excluded,omitempty"`
	Result   *JobResult `json:"result,omitempty"`
	// Refusal is what the worker named when it refused the job's params.
	Refusal *Refusal `json:"refusal,omitempty"`
}

// JobResult is a site's posted result.
type JobResult struct {
	_           struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Worker      string   `json:"worker"`
	ResultHash  string   `json:"result_hash"` // hex SHA-256 of the encrypted result
	Locator     string   `json:"locator"`
	Measurement string   `json:"measurement"`
	Posted      int64    `json:"posted_height"`
}

// Job is a submitted, admitted job.
type Job struct {
	_            struct{}        `cbor:",toarray"` // stored as an array of its fields (state.go)
	ID           uint64          `json:"id"`
	Requester    string          `json:"requester"`
	Purpose      string          `json:"purpose"`
	Analysis     string          `json:"analysis"`
	Params       json.RawMessage `json:"params"`
	ResultKey    []byte          `json:"result_key"`
	Escrow       uint64          `json:"escrow"`
	Sites        []JobSite       `json:"sites"`
	Status       string          `json:"status"`
	Admitted     int64           `json:"admitted_height"`
	AdmittedTime int64           `json:"admitted_time"`
	Deadline     int64           `json:"deadline_height"`
	Closed       int64           `json:"closed_height,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	Study        *Study          `json:"study,omitempty"` // a pooled study's rounds
}

// Budget is what a dataset has spent of its privacy budget.
type Budget struct {
	_          struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	SpentMilli uint64   `json:"spent_milli"`
}

// MaxJobParams bounds a job's analysis parameters.
const MaxJobParams = 8 << 10

// Messages.

// SubmitJob asks for an analysis over datasets.
type SubmitJob struct {
	Datasets     []string        `json:"datasets"`
	Analysis     string          `json:"analysis"` // a built-in name, or "code:<hex sha256>"
	Params       json.RawMessage `json:"params"`
	Purpose      string          `json:"purpose"`
	MaxPrice     uint64          `json:"max_price"`
	ResultKey    []byte          `json:"result_key"`              // requester's X25519 key for the result
	EpsilonMilli uint64          `json:"epsilon_milli,omitempty"` // per dataset; 0 = each policy's per-job epsilon
	// Study makes a multi-site logistic regression one model fitted
	// across the sites by secure aggregation (see studies.go).
	Study *StudyRequest `json:"study,omitempty"`
}

// PostResult is a worker's signed result for one site of a job. It repeats
// the dataset root and the worker's measurement so the signature binds them.
type PostResult struct {
	Job         uint64 `json:"job"`
	Dataset     string `json:"dataset"`
	ContentRoot string `json:"content_root"`
	Measurement string `json:"measurement"`
	ResultHash  string `json:"result_hash"`
	Locator     string `json:"locator"`
}

// FailJob is a worker's report that its site cannot produce a result.
type FailJob struct {
	Job     uint64 `json:"job"`
	Dataset string `json:"dataset"`
	Reason  string `json:"reason"`
	// Refusal says, with reason invalid_params or analysis_error, which
	// parameter the worker refused.
	Refusal *Refusal `json:"refusal,omitempty"`
}

// Refusal is why a worker refused a job's params, in a form that cannot
// carry data: a code from RefusalCodes, the parameter's path in the params
// (names and indices only, e.g. "features[1]" or "filter[0].column") and
// a column of the site's schema. The requester reads the full message by
// checking the params against the schema (medchain job show does).
type Refusal struct {
	Code   string `json:"code"`
	Param  string `json:"param,omitempty"`
	Column string `json:"column,omitempty"`
}

// RefusalCodes are the codes of a Refusal (package jobparams's codes).
var RefusalCodes = []string{"unknown_analysis", "malformed", "unknown_parameter", "missing_parameter", "no_such_column", "wrong_type", "bad_value"}

// MaxRefusalParam bounds a Refusal's parameter path.
const MaxRefusalParam = 96

// ValidRefusalParam reports whether p is a parameter path a Refusal may
// carry: dot-separated names of ASCII letters, digits and '_', each
// optionally followed by one [index], at most MaxRefusalParam bytes.
func ValidRefusalParam(p string) bool {
	if p == "" || len(p) > MaxRefusalParam {
		return false
	}
	for _, seg := range strings.Split(p, ".") {
		name, idx, indexed := strings.Cut(seg, "[")
		if name == "" {
			return false
		}
		for _, r := range name {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
		if indexed {
			digits, ok := strings.CutSuffix(idx, "]")
			if !ok || digits == "" || len(digits) > 4 || strings.Trim(digits, "0123456789") != "" {
				return false
			}
		}
	}
	return true
}

// ExpireJob closes a job whose deadline passed without all results.
type ExpireJob struct {
	Job uint64 `json:"job"`
}

// Transaction types of compute.
const (
	TxRegisterWorker TxType = "register_worker"
	TxSubmitJob      TxType = "submit_job"
	TxPostResult     TxType = "post_result"
	TxFailJob        TxType = "fail_job"
	TxExpireJob      TxType = "expire_job"
)

func (*SubmitJob) Type() TxType  { return TxSubmitJob }
func (*PostResult) Type() TxType { return TxPostResult }
func (*FailJob) Type() TxType    { return TxFailJob }
func (*ExpireJob) Type() TxType  { return TxExpireJob }

// FailReasons are the reasons a worker may give (no free text: it could
// carry record-level data).
// invalid_params: the params do not fit the analysis or the dataset's
// schema (decided before reading data; see FailJob.Refusal). no_consent:
// the dataset is opt-in and no patient's consent on the ledger permits the
// job's purpose (decided from the public consents alone).
var FailReasons = []string{"data_unavailable", "integrity_error", "cohort_too_small", "cohort_overlap", "analysis_error", "policy_changed", "resource_exhausted", "invalid_params", "no_consent"}

// untouchedReasons are the refusals a worker makes before it reads any
// data (the version is missing, its root differs, the policy changed).
// Every other refusal depends on the data — even "the cohort is too small"
// says something about it — so it spends the site's epsilon and earns its
// price: refusals are not a free oracle.
var untouchedReasons = []string{"data_unavailable", "integrity_error", "policy_changed", "invalid_params", "no_consent"}

// validModuleLimits checks the limits a custom analysis job gives its
// module (params "limits"): they are part of the job as admitted, so the
// ledger makes sure every such job has them, in range; the worker enforces
// them. Only this key of the params is read: the rest is the analysis's.
func validModuleLimits(params []byte) error {
	var p struct {
		Limits *struct {
			MemoryPages   *uint64 `json:"memory_pages"`
			TimeoutMillis *uint64 `json:"timeout_ms"`
		} `json:"limits"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		// Only "limits" is decoded, and the params are a JSON object:
		// the error is a limit that is not a whole number.
		return errf(CodeSandboxLimits, "msg.params.limits: want {\"memory_pages\": 1 to %d, \"timeout_ms\": 1 to %d}, whole numbers",
			vocab.MaxModuleMemoryPages, vocab.MaxModuleTimeoutMillis)
	}
	switch l := p.Limits; {
	case l == nil:
		return errf(CodeSandboxLimits, "msg.params.limits: a custom analysis job states its module's limits: {\"memory_pages\": 1 to %d, \"timeout_ms\": 1 to %d}",
			vocab.MaxModuleMemoryPages, vocab.MaxModuleTimeoutMillis)
	case l.MemoryPages == nil || *l.MemoryPages < 1 || *l.MemoryPages > vocab.MaxModuleMemoryPages:
		return errf(CodeSandboxLimits, "msg.params.limits.memory_pages: want 1 to %d pages of 64 KiB", vocab.MaxModuleMemoryPages)
	case l.TimeoutMillis == nil || *l.TimeoutMillis < 1 || *l.TimeoutMillis > vocab.MaxModuleTimeoutMillis:
		return errf(CodeSandboxLimits, "msg.params.limits.timeout_ms: want 1 to %d milliseconds", vocab.MaxModuleTimeoutMillis)
	}
	return nil
}

// analysisAllowed checks a job's analysis against a policy.
func analysisAllowed(a Analyses, analysis string) bool {
	if h, ok := strings.CutPrefix(analysis, "code:"); ok {
		return slices.Contains(a.CodeHashes, h)
	}
	return slices.Contains(a.Builtins, analysis)
}

func (c *txCtx) submitJob(m *SubmitJob) ([]Event, error) {
	if err := c.requireKind(KindResearcher, KindInstitution); err != nil {
		return nil, err
	}
	if len(m.Datasets) == 0 || len(m.Datasets) > 32 {
		return nil, errf(CodeInvalidField, "msg.datasets: name 1 to 32 datasets, got %d", len(m.Datasets))
	}
	if err := oneOf("msg.purpose", m.Purpose, Purposes); err != nil {
		return nil, err
	}
	if h, ok := strings.CutPrefix(m.Analysis, "code:"); ok {
		if err := validHash("msg.analysis", h, true); err != nil {
			return nil, err
		}
	} else if err := oneOf("msg.analysis", m.Analysis, BuiltinAnalyses); err != nil {
		return nil, err
	}
	if len(m.Params) > MaxJobParams {
		return nil, errf(CodeInvalidField, "msg.params: %d bytes, limit %d", len(m.Params), MaxJobParams)
	}
	if len(m.Params) == 0 || !isJSONObject(m.Params) {
		return nil, errf(CodeInvalidField, "msg.params: must be a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, m.Params); err != nil {
		return nil, errf(CodeInvalidField, "msg.params: %v", err)
	}
	if err := validEncKey("msg.result_key", m.ResultKey); err != nil {
		return nil, err
	}
	if strings.HasPrefix(m.Analysis, "code:") {
		if err := validModuleLimits(compact.Bytes()); err != nil {
			return nil, err
		}
	}
	if m.Study != nil {
		if err := validStudy(m); err != nil {
			return nil, err
		}
	}
	p, err := c.params()
	if err != nil {
		return nil, err
	}
	timeout := p.JobTimeoutBlocks
	if timeout == 0 {
		timeout = DefaultJobTimeoutBlocks
	}
	job := Job{Requester: c.addr, Purpose: m.Purpose, Analysis: m.Analysis, Params: compact.Bytes(), ResultKey: m.ResultKey,
		Status: JobAdmitted, Admitted: c.height, AdmittedTime: c.now, Deadline: c.height + timeout}
	for i, id := range m.Datasets {
		at := fmt.Sprintf("msg.datasets[%d]", i)
		if slices.Contains(m.Datasets[:i], id) {
			return nil, errf(CodeInvalidField, "%s: dataset %q named twice", at, id)
		}
		site, err := c.admitSite(at, id, m)
		if err != nil {
			return nil, err
		}
		var carry uint64
		if job.Escrow, carry = bits.Add64(job.Escrow, site.Price, 0); carry != 0 {
			return nil, errf(CodeOverflow, "%s: total price overflows", at)
		}
		job.Sites = append(job.Sites, *site)
	}
	if m.Study != nil {
		if err := c.startStudy(&job, m.Study); err != nil {
			return nil, err
		}
	}
	if job.Escrow > m.MaxPrice {
		return nil, errf(CodePriceExceeded, "the job costs %d, more than msg.max_price %d", job.Escrow, m.MaxPrice)
	}
	if c.signer.Balance < job.Escrow {
		return nil, errf(CodeInsufficientFund, "balance of %s is %d, the job costs %d", c.addr, c.signer.Balance, job.Escrow)
	}
	c.signer.Balance -= job.Escrow
	if err := putState(c.s, KeyAccount(c.addr), c.signer); err != nil {
		return nil, err
	}
	for _, s := range job.Sites {
		b, err := c.budget(s.Dataset)
		if err != nil {
			return nil, err
		}
		b.SpentMilli += s.EpsilonMilli
		if err := putState(c.s, KeyBudget(s.Dataset), b); err != nil {
			return nil, err
		}
	}
	if _, err := getState(c.s, KeyJobCount(), &job.ID); err != nil {
		return nil, err
	}
	if err := putState(c.s, KeyJobCount(), job.ID+1); err != nil {
		return nil, err
	}
	return ev("submit_job", "job", fmt.Sprint(job.ID), "escrow", fmt.Sprint(job.Escrow), "deadline", fmt.Sprint(job.Deadline)),
		putState(c.s, KeyJob(job.ID), job)
}

// admitSite checks one dataset of a job against its policy and budget.
func (c *txCtx) admitSite(at, id string, m *SubmitJob) (*JobSite, error) {
	ds, err := c.dataset(id)
	if err != nil {
		return nil, err
	}
	if !ds.HasPolicy {
		return nil, errf(CodeInvalidState, "%s: dataset %q has no policy", at, id)
	}
	var pol Policy
	if _, err := getState(c.s, KeyPolicy(id), &pol); err != nil {
		return nil, err
	}
	if pol.Expiry != 0 && pol.Expiry <= c.now {
		return nil, errf(CodeExpired, "%s: the policy of dataset %q expired at %d", at, id, pol.Expiry)
	}
	if !slices.Contains(pol.Purposes, m.Purpose) {
		return nil, errf(CodeUnauthorized, "%s: dataset %q does not allow purpose %q", at, id, m.Purpose)
	}
	if !RequesterAllowed(pol.Requesters, c.signer) {
		granted, err := c.hasGrant(id, m.Purpose)
		if err != nil {
			return nil, err
		}
		if !granted {
			return nil, errf(CodeUnauthorized, "%s: dataset %q's policy does not admit %s accounts of %q and no access grant covers %s", at, id, c.signer.Kind, c.signer.Org, m.Purpose)
		}
	}
	if !analysisAllowed(pol.Analyses, m.Analysis) {
		if h, ok := strings.CutPrefix(m.Analysis, "code:"); ok {
			return nil, errf(CodeCodeNotApproved, "%s: dataset %q's policy does not list code %s in analyses.code_hashes", at, id, h)
		}
		return nil, errf(CodeUnauthorized, "%s: dataset %q does not allow analysis %q", at, id, m.Analysis)
	}
	eps := pol.EpsilonPerJobMilli
	if m.EpsilonMilli != 0 {
		if m.EpsilonMilli > pol.EpsilonPerJobMilli {
			return nil, errf(CodeInvalidField, "msg.epsilon_milli: %d exceeds dataset %q's per-job epsilon %d", m.EpsilonMilli, id, pol.EpsilonPerJobMilli)
		}
		eps = m.EpsilonMilli
	}
	floor := pol.MinEpsilonPerJobMilli
	if floor == 0 {
		floor = pol.EpsilonPerJobMilli
	}
	if eps < floor {
		return nil, errf(CodeInvalidField, "msg.epsilon_milli: %d is below dataset %q's minimum of %d per job", eps, id, floor)
	}
	b, err := c.budget(id)
	if err != nil {
		return nil, err
	}
	if b.SpentMilli+eps > pol.EpsilonTotalMilli || b.SpentMilli+eps < b.SpentMilli {
		return nil, errf(CodeBudgetExhausted, "%s: dataset %q has spent %d of its %d milli-epsilon; this job needs %d", at, id, b.SpentMilli, pol.EpsilonTotalMilli, eps)
	}
	v, err := GetDatasetVersion(c.s, id, ds.LatestVersion)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errf(CodeInternal, "dataset %q version %d missing", id, ds.LatestVersion)
	}
	return &JobSite{Dataset: id, Version: v.Version, ContentRoot: v.ContentRoot, Org: ds.Org, Payee: v.PublishedBy,
		Price: pol.Price, EpsilonMilli: eps, Split: pol.Split, Attestation: pol.Attestation, MinCohort: pol.MinCohort,
		Model: pol.ConsentModel, ExactRegression: pol.ExactRegression, MinStudySites: pol.MinStudySites}, nil
}

func (c *txCtx) hasGrant(dataset, purpose string) (bool, error) {
	var id uint64
	found, err := getState(c.s, KeyAccessGrant(dataset, c.addr, purpose), &id)
	if err != nil || !found {
		return false, err
	}
	r, err := GetAccessRequest(c.s, id)
	if err != nil || r == nil {
		return false, err
	}
	return r.Status == AccessGranted && (r.Expiry == 0 || r.Expiry > c.now), nil
}

func (c *txCtx) budget(dataset string) (Budget, error) {
	var b Budget
	_, err := getState(c.s, KeyBudget(dataset), &b)
	return b, err
}

func (c *txCtx) job(id uint64) (*Job, error) {
	var j Job
	found, err := getState(c.s, KeyJob(id), &j)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "msg.job: no job %d", id)
	}
	return &j, nil
}

// siteWorker finds the job's site for a dataset and checks the signer is a
// worker of that site's institution.
func (c *txCtx) siteWorker(j *Job, dataset string) (*JobSite, *Worker, error) {
	if j.Status != JobAdmitted {
		return nil, nil, errf(CodeInvalidState, "msg.job: job %d is %s", j.ID, j.Status)
	}
	i := slices.IndexFunc(j.Sites, func(s JobSite) bool { return s.Dataset == dataset })
	if i < 0 {
		return nil, nil, errf(CodeInvalidField, "msg.dataset: job %d does not use dataset %q", j.ID, dataset)
	}
	var w Worker
	found, err := getState(c.s, KeyWorker(c.addr), &w)
	if err != nil {
		return nil, nil, err
	}
	if !found || w.Org != j.Sites[i].Org {
		return nil, nil, errf(CodeUnauthorized, "%s is not a registered worker of %q, which holds dataset %q", c.addr, j.Sites[i].Org, dataset)
	}
	return &j.Sites[i], &w, nil
}

func (c *txCtx) postResult(m *PostResult) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	site, w, err := c.siteWorker(j, m.Dataset)
	if err != nil {
		return nil, err
	}
	if site.Result != nil {
		return nil, errf(CodeInvalidState, "msg.dataset: job %d already has a result for %q", j.ID, m.Dataset)
	}
	if c.height > j.Deadline {
		return nil, errf(CodeExpired, "msg.job: job %d's deadline was height %d", j.ID, j.Deadline)
	}
	if st := j.Study; st != nil {
		if site.Excluded != "" {
			return nil, errf(CodeInvalidState, "msg.dataset: %q was %s from study %d", m.Dataset, site.Excluded, j.ID)
		}
		if !st.Done {
			return nil, errf(CodeInvalidState, "msg.job: study %d has no final sum yet", j.ID)
		}
	}
	if m.ContentRoot != site.ContentRoot {
		return nil, errf(CodeInvalidField, "msg.content_root: job %d was admitted on %q version %d with root %s", j.ID, m.Dataset, site.Version, site.ContentRoot)
	}
	if m.Measurement != w.Measurement {
		return nil, errf(CodeUnauthorized, "msg.measurement: worker %s is registered with measurement %s", c.addr, w.Measurement)
	}
	if err := c.workerMeets(site.Attestation, w); err != nil {
		return nil, forDataset(err, m.Dataset)
	}
	if err := validHash("msg.result_hash", m.ResultHash, true); err != nil {
		return nil, err
	}
	if err := validText("msg.locator", m.Locator, 512, true); err != nil {
		return nil, err
	}
	site.Result = &JobResult{Worker: c.addr, ResultHash: m.ResultHash, Locator: m.Locator, Measurement: w.Measurement, Posted: c.height}
	if site.Touched == "" {
		site.Touched = c.addr
	}
	events := ev("post_result", "job", fmt.Sprint(j.ID), "dataset", m.Dataset)
	if !slices.ContainsFunc(j.Sites, func(s JobSite) bool { return s.Result == nil && s.Excluded == "" }) {
		if err := c.settle(j); err != nil {
			return nil, err
		}
		events = append(events, ev("job_settled", "job", fmt.Sprint(j.ID))...)
	}
	return events, putState(c.s, KeyJob(j.ID), j)
}

// settle closes a job whose every remaining site posted its result.
func (c *txCtx) settle(j *Job) error {
	if err := c.payOut(j); err != nil {
		return err
	}
	j.Status, j.Closed = JobCompleted, c.height
	return nil
}

// payOut empties a job's escrow: each site that computed on its data for
// the job and was not excluded from it earns its price, split by its
// policy (institution, patient pool, the worker that did the work; shares
// round down and the worker's takes the remainder); every other site's
// price goes back to the requester. A touched site's epsilon stays spent;
// an untouched one's is given back.
func (c *txCtx) payOut(j *Job) error {
	var refund uint64
	for _, s := range j.Sites {
		worker := s.Touched
		if s.Result != nil {
			worker = s.Result.Worker
		}
		if worker == "" || s.Excluded != "" {
			refund += s.Price
		} else if err := c.paySite(s, worker); err != nil {
			return err
		}
		if worker != "" {
			continue
		}
		b, err := c.budget(s.Dataset)
		if err != nil {
			return err
		}
		b.SpentMilli -= min(b.SpentMilli, s.EpsilonMilli)
		if err := putState(c.s, KeyBudget(s.Dataset), b); err != nil {
			return err
		}
	}
	if err := c.credit(j.Requester, refund); err != nil {
		return err
	}
	j.Escrow = 0
	return nil
}

// paySite pays one site's price by its split.
func (c *txCtx) paySite(s JobSite, worker string) error {
	inst := mulBps(s.Price, s.Split.InstitutionBps)
	pool := mulBps(s.Price, s.Split.PatientPoolBps)
	if err := c.credit(s.Payee, inst); err != nil {
		return err
	}
	if err := c.addToPool(s, pool); err != nil {
		return err
	}
	return c.credit(worker, s.Price-inst-pool)
}

// mulBps is floor(amount × bps / 10000) without overflow.
func mulBps(amount uint64, bps uint32) uint64 {
	hi, lo := bits.Mul64(amount, uint64(bps))
	q, _ := bits.Div64(hi, lo, 10000)
	return q
}

func (c *txCtx) credit(addr string, amount uint64) error {
	if amount == 0 {
		return nil
	}
	a, err := getAccount(c.s, addr)
	if err != nil {
		return err
	}
	if a == nil {
		return errf(CodeInternal, "payee %s missing", addr)
	}
	a.Balance += amount // cannot overflow: the sum of all balances is the supply
	if addr == c.addr {
		c.signer.Balance = a.Balance
	}
	return putState(c.s, KeyAccount(addr), a)
}

// closeUnsettled closes a job that will not complete (a refusal, an
// expiry, a failed study): sites that touched data are charged and paid,
// the rest of the escrow and the untouched sites' epsilon go back.
func (c *txCtx) closeUnsettled(j *Job, status, reason string) error {
	if err := c.payOut(j); err != nil {
		return err
	}
	j.Status, j.Closed, j.Reason = status, c.height, reason
	return putState(c.s, KeyJob(j.ID), j)
}

func (c *txCtx) failJob(m *FailJob) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	site, _, err := c.siteWorker(j, m.Dataset)
	if err != nil {
		return nil, err
	}
	if err := oneOf("msg.reason", m.Reason, FailReasons); err != nil {
		return nil, err
	}
	if site.Excluded != "" {
		return nil, errf(CodeInvalidState, "msg.dataset: %q was %s from study %d", m.Dataset, site.Excluded, j.ID)
	}
	if m.Refusal != nil {
		if err := c.checkRefusal(m, site); err != nil {
			return nil, err
		}
		site.Refusal = m.Refusal
	}
	if !slices.Contains(untouchedReasons, m.Reason) && site.Touched == "" {
		site.Touched = c.addr
	}
	return ev("fail_job", "job", fmt.Sprint(j.ID), "dataset", m.Dataset, "reason", m.Reason),
		c.closeUnsettled(j, JobFailed, m.Dataset+": "+m.Reason)
}

// checkRefusal keeps a refusal to its form: a listed code, a parameter
// path, and a column the site's schema has.
func (c *txCtx) checkRefusal(m *FailJob, site *JobSite) error {
	r := m.Refusal
	if m.Reason != "invalid_params" && m.Reason != "analysis_error" {
		return errf(CodeInvalidField, "msg.refusal: only reasons invalid_params and analysis_error carry a refusal, not %s", m.Reason)
	}
	if err := oneOf("msg.refusal.code", r.Code, RefusalCodes); err != nil {
		return err
	}
	if r.Param != "" && !ValidRefusalParam(r.Param) {
		return errf(CodeInvalidField, "msg.refusal.param: not a parameter path (names and [indices] joined by '.', at most %d bytes)", MaxRefusalParam)
	}
	if r.Column == "" {
		return nil
	}
	v, err := GetDatasetVersion(c.s, site.Dataset, site.Version)
	if err != nil {
		return err
	}
	if v == nil || !slices.ContainsFunc(v.Schema, func(f Field) bool { return f.Name == r.Column }) {
		return errf(CodeInvalidField, "msg.refusal.column: dataset %s version %d has no such column", site.Dataset, site.Version)
	}
	return nil
}

func (c *txCtx) expireJob(m *ExpireJob) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	if j.Status != JobAdmitted {
		return nil, errf(CodeInvalidState, "msg.job: job %d is %s", j.ID, j.Status)
	}
	if c.height <= j.Deadline {
		return nil, errf(CodeInvalidState, "msg.job: job %d runs until height %d", j.ID, j.Deadline)
	}
	return ev("expire_job", "job", fmt.Sprint(j.ID)), c.closeUnsettled(j, JobExpired, "deadline passed")
}

// GetJob reads a job.
func GetJob(r store.Reader, id uint64) (*Job, error) { return getOne[Job](r, KeyJob(id)) }

// GetBudget reads a dataset's spent privacy budget.
func GetBudget(r store.Reader, dataset string) (Budget, error) {
	var b Budget
	_, err := getState(r, KeyBudget(dataset), &b)
	return b, err
}

// GetPool reads a dataset's patient reward pool.
func GetPool(r store.Reader, dataset string) (uint64, error) {
	var p uint64
	_, err := getState(r, KeyPool(dataset), &p)
	return p, err
}

// KeyJobCount counts jobs (the next job id).
func KeyJobCount() []byte { return []byte("s/jcount") }

// KeyJob is a job by id.
func KeyJob(id uint64) []byte { return []byte("s/job/" + num(id)) }

// prefixJob lists every job.
var prefixJob = []byte(strings.TrimSuffix(string(KeyJob(0)), num(0)))

// KeyBudget is the privacy budget a dataset has spent (milli-epsilon).
func KeyBudget(dataset string) []byte { return []byte("s/budget/" + dataset) }

// KeyPool is a dataset's patient reward pool.
func KeyPool(dataset string) []byte { return []byte("s/pool/" + dataset) }

// ListJobs lists jobs in id order.
func ListJobs(it Iterator, keep func(*Job) bool) ([]Job, error) {
	return list(it, prefixJob, keep)
}
