package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
	"github.com/medchain/medchain/zk"
)

// Pooled studies: one model fitted across the datasets of several
// institutions, coordinated by the ledger instead of a central server.
//
// Every iteration, each participating site posts a contribution: its
// fixed-point values masked with pairwise masks (X25519 between the sites'
// workers, expanded per chain, job, round, iteration and phase), Pedersen
// commitments to the unmasked values, and a proof that every value lies in
// bounds the ledger derives from the study's spec and the site's policy and
// record band. The ledger verifies each proof when it is posted: a site
// whose proof fails is flagged (recorded with the hash of what it sent),
// excluded and not paid, and the round restarts without it. When every
// participant has posted, the ledger adds the masked vectors (the masks
// cancel), checks that the sum opens the sum of the commitments, and stores
// only the sum. No per-site value is ever stored or served unmasked.
//
// Each iteration has a deadline in blocks; after it anyone may advance the
// study, which records the sites that missed it as dropped and restarts the
// round among the rest with fresh masks. A study whose participants fall
// below its minimum fails. Sites that touched data are charged (epsilon and
// price) whatever the outcome; excluded sites are never paid.

// DefaultIterationBlocks is an iteration's deadline when the study does
// not set one.
const DefaultIterationBlocks = 30

// MinIterationBlocks is the shortest iteration deadline a study may ask
// for: a site needs time to compute, prove and post, and a requester must
// not be able to drop honest sites by a deadline they cannot meet.
const MinIterationBlocks = 10

// MaxStudyMismatches is how many times a round may end with a sum that does
// not open the commitments before the study fails.
const MaxStudyMismatches = 3

// StudyRequest asks for a pooled fit (SubmitJob.Study).
type StudyRequest struct {
	Spec federated.Spec `json:"spec"`
	// MinSites is the fewest sites the study may finish with (at least 2
	// and at least every dataset policy's min_study_sites).
	MinSites uint32 `json:"min_sites,omitempty"`
	// IterationBlocks is each iteration's deadline (default 30 blocks).
	IterationBlocks uint32 `json:"iteration_blocks,omitempty"`
}

// Study is the ledger's record of a pooled study: who takes part, where it
// stands, who dropped out or was flagged. It never holds a site's values.
type Study struct {
	_               struct{}       `cbor:",toarray"` // stored as an array of its fields (state.go)
	Spec            federated.Spec `json:"spec"`
	MinSites        uint32         `json:"min_sites"`
	IterationBlocks uint32         `json:"iteration_blocks"`
	Round           uint32         `json:"round"`
	// Iteration is the number of completed sums: the iteration the
	// participants are working on.
	Iteration    uint32           `json:"iteration"`
	Participants []string         `json:"participants"` // datasets of the current round, in the job's order
	Deadline     int64            `json:"iteration_deadline"`
	Done         bool             `json:"done"` // the final sum is in; participants post their results
	Mismatches   uint32           `json:"mismatches,omitempty"`
	Rounds       []StudyRound     `json:"rounds"`
	Excluded     []StudyExclusion `json:"excluded,omitempty"`
}

// StudyRound is one round: a set of participants, from its first iteration
// until it ended (a dropout, a flag or a mismatch restarts the round).
type StudyRound struct {
	_              struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Round          uint32   `json:"round"`
	Participants   []string `json:"participants"`
	FirstIteration uint32   `json:"first_iteration"`
	Started        int64    `json:"started_height"`
	Ended          int64    `json:"ended_height,omitempty"`
	EndReason      string   `json:"end_reason,omitempty"`
}

// Exclusion kinds.
const (
	ExcludedDropped = "dropped"
	ExcludedFlagged = "flagged"
)

// StudyExclusion records a site that left a study.
type StudyExclusion struct {
	_         struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Dataset   string   `json:"dataset"`
	Kind      string   `json:"kind"` // dropped or flagged
	Round     uint32   `json:"round"`
	Iteration uint32   `json:"iteration"`
	Height    int64    `json:"height"`
	Reason    string   `json:"reason"`
	// Evidence is the SHA-256 of the flagged contribution (its canonical
	// JSON), which stays in the block that carried it.
	Evidence string `json:"evidence,omitempty"`
}

// StudySum is a completed iteration: the sum of the participants'
// contributions. Every worker replays the solver from these.
type StudySum struct {
	_            struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Job          uint64   `json:"job"`
	Iteration    uint32   `json:"iteration"`
	Round        uint32   `json:"round"`
	Phase        string   `json:"phase"`
	Participants []string `json:"participants"`
	Sum          []int64  `json:"sum"`
	Height       int64    `json:"height"`
}

// StoredContribution is a posted contribution as the state keeps it:
// masked values and commitments (needed to check the sum), the hash of the
// proof (the proof itself stays in the block).
type StoredContribution struct {
	_           struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Dataset     string   `json:"dataset"`
	Round       uint32   `json:"round"`
	Iteration   uint32   `json:"iteration"`
	Phase       string   `json:"phase"`
	Masked      []uint64 `json:"masked"`
	Commitments []string `json:"commitments"`
	ProofHash   string   `json:"proof_hash"`
	Worker      string   `json:"worker"`
	Posted      int64    `json:"posted_height"`
}

// PostContribution is a site's contribution to one iteration of a study.
type PostContribution struct {
	Job          uint64 `json:"job"`
	Dataset      string `json:"dataset"`
	Round        uint32 `json:"round"`
	Iteration    uint32 `json:"iteration"`
	Phase        string `json:"phase"`
	Contribution federated.Contribution
}

// MarshalJSON flattens the contribution into the message.
func (m PostContribution) MarshalJSON() ([]byte, error) {
	type flat struct {
		Job       uint64 `json:"job"`
		Dataset   string `json:"dataset"`
		Round     uint32 `json:"round"`
		Iteration uint32 `json:"iteration"`
		Phase     string `json:"phase"`
		federated.Contribution
	}
	return json.Marshal(flat{m.Job, m.Dataset, m.Round, m.Iteration, m.Phase, m.Contribution})
}

// UnmarshalJSON reads the flat form.
func (m *PostContribution) UnmarshalJSON(b []byte) error {
	var f struct {
		Job       uint64 `json:"job"`
		Dataset   string `json:"dataset"`
		Round     uint32 `json:"round"`
		Iteration uint32 `json:"iteration"`
		Phase     string `json:"phase"`
		federated.Contribution
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = PostContribution{f.Job, f.Dataset, f.Round, f.Iteration, f.Phase, f.Contribution}
	return nil
}

// AdvanceStudy, after an iteration's deadline, records the participants
// that have not posted as dropped and restarts the round without them.
// Anyone may sign it.
type AdvanceStudy struct {
	Job uint64 `json:"job"`
}

// Transaction types of studies.
const (
	TxPostContribution TxType = "post_contribution"
	TxAdvanceStudy     TxType = "advance_study"
)

func (*PostContribution) Type() TxType { return TxPostContribution }
func (*AdvanceStudy) Type() TxType     { return TxAdvanceStudy }

// BandTop is the largest record count the ledger assumes for a record band
// (vocab.BandTop).
func BandTop(band string) uint64 { return vocab.BandTop(band) }

// validStudy checks a study request against the job it comes with.
func validStudy(m *SubmitJob) error {
	s := m.Study
	if len(m.Datasets) < 2 {
		return errf(CodeInvalidField, "msg.study: a pooled study needs two or more datasets, got %d", len(m.Datasets))
	}
	if len(m.Datasets) > federated.MaxSites {
		return errf(CodeInvalidField, "msg.study: at most %d sites, got %d", federated.MaxSites, len(m.Datasets))
	}
	if m.Analysis != "logistic_regression" && m.Analysis != "survival" && m.Analysis != "boosted_trees" {
		return errf(CodeInvalidField, "msg.study: pooled studies fit logistic_regression, survival or boosted_trees, not %q", m.Analysis)
	}
	if err := s.Spec.Validate(); err != nil {
		return errf(CodeInvalidField, "msg.%v", err)
	}
	if (m.Analysis == "boosted_trees") != (s.Spec.Link == federated.LinkTrees) {
		return errf(CodeInvalidField, "msg.study.spec.link: %q does not fit analysis %q (boosted-trees studies have link trees)", s.Spec.Link, m.Analysis)
	}
	if (m.Analysis == "survival") != (s.Spec.Link == federated.LinkCox) {
		return errf(CodeInvalidField, "msg.study.spec.link: %q does not fit analysis %q (survival studies are Cox models, link cox)", s.Spec.Link, m.Analysis)
	}
	if s.MinSites > uint32(len(m.Datasets)) {
		return errf(CodeInvalidField, "msg.study.min_sites: %d exceeds the %d datasets", s.MinSites, len(m.Datasets))
	}
	if s.IterationBlocks != 0 && (s.IterationBlocks < MinIterationBlocks || s.IterationBlocks > 10_000) {
		return errf(CodeInvalidField, "msg.study.iteration_blocks: %d, want %d to 10000", s.IterationBlocks, MinIterationBlocks)
	}
	return nil
}

// startStudy sets up a study at admission: each site's worker is fixed
// (its key makes the masks), the first round begins.
func (c *txCtx) startStudy(j *Job, req *StudyRequest) error {
	st := &Study{Spec: req.Spec, MinSites: max(2, req.MinSites), IterationBlocks: req.IterationBlocks}
	if st.IterationBlocks == 0 {
		st.IterationBlocks = DefaultIterationBlocks
	}
	for i := range j.Sites {
		s := &j.Sites[i]
		st.MinSites = max(st.MinSites, s.MinStudySites)
		w, err := c.studyWorker(s)
		if err != nil {
			return errf(CodeInvalidState, "msg.datasets[%d]: %v", i, err)
		}
		s.StudyWorker = w
		st.Participants = append(st.Participants, s.Dataset)
		// Every contribution this site could make must have bounds (its
		// epsilon covers the noise, its minimum cohort fits its band), or
		// the site could never take part.
		dv, err := GetDatasetVersion(c.s, s.Dataset, s.Version)
		if err != nil {
			return err
		}
		for _, phase := range federated.Phases {
			if _, err := st.Spec.Bounds(phase, s.MinCohort, BandTop(dv.RecordBand), s.EpsilonMilli); err != nil {
				return errf(CodeInvalidField, "msg.datasets[%d]: dataset %q cannot take part in this study: %v", i, s.Dataset, err)
			}
		}
	}
	// Sites count by institution: two datasets of one institution share
	// its worker key, so they hold each other's pair secrets and count as
	// one towards the study's minimum.
	if orgs := studyOrgs(j, st.Participants); orgs < st.MinSites {
		return errf(CodeInvalidField, "msg.study: the study needs %d institutions, the job's datasets belong to %d", st.MinSites, orgs)
	}
	st.Deadline = c.height + int64(st.IterationBlocks)
	st.Rounds = []StudyRound{{Round: 0, Participants: slices.Clone(st.Participants), Started: c.height}}
	j.Study = st
	return nil
}

// studyOrgs counts the distinct institutions of a set of a job's sites.
func studyOrgs(j *Job, datasets []string) uint32 {
	var orgs []string
	for _, s := range j.Sites {
		if slices.Contains(datasets, s.Dataset) && !slices.Contains(orgs, s.Org) {
			orgs = append(orgs, s.Org)
		}
	}
	return uint32(len(orgs))
}

// studyWorker picks the worker that contributes for a site: the
// registered worker of the site's institution with the smallest address
// that meets the policy's attestation demand.
func (c *txCtx) studyWorker(s *JobSite) (string, error) {
	var addrs []string
	if _, err := getState(c.s, KeyOrgWorkers(s.Org), &addrs); err != nil {
		return "", err
	}
	for _, a := range addrs {
		w, err := getOne[Worker](c.s, KeyWorker(a))
		if err != nil {
			return "", err
		}
		if w == nil || w.Org != s.Org {
			continue
		}
		if err := c.workerMeets(s.Attestation, w); err != nil {
			if CodeOf(err) == CodeInternal {
				return "", err
			}
			continue
		}
		return a, nil
	}
	return "", fmt.Errorf("organisation %q has no registered worker that meets dataset %q's policy", s.Org, s.Dataset)
}

// indexWorker adds a worker to its organisation's sorted worker list.
func (c *txCtx) indexWorker(org, addr string) error {
	var addrs []string
	if _, err := getState(c.s, KeyOrgWorkers(org), &addrs); err != nil {
		return err
	}
	i, found := slices.BinarySearch(addrs, addr)
	if found {
		return nil
	}
	return putState(c.s, KeyOrgWorkers(org), slices.Insert(addrs, i, addr))
}

func (c *txCtx) postContribution(m *PostContribution) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	if j.Study == nil {
		return nil, errf(CodeInvalidState, "msg.job: job %d is not a pooled study", j.ID)
	}
	site, w, err := c.siteWorker(j, m.Dataset)
	if err != nil {
		return nil, err
	}
	st := j.Study
	if c.addr != site.StudyWorker {
		return nil, errf(CodeUnauthorized, "msg.dataset: worker %s contributes for %q in job %d, not %s", site.StudyWorker, m.Dataset, j.ID, c.addr)
	}
	// The checks of a result, at posting time (the worker may have been
	// re-registered since admission): a contribution is computed on the
	// site's data just as a result is. The analysis was checked against
	// every site's policy at admission, and only a pooled study takes
	// contributions.
	if err := c.workerMeets(site.Attestation, w); err != nil {
		return nil, forDataset(err, m.Dataset)
	}
	if !slices.Contains(st.Participants, m.Dataset) {
		return nil, errf(CodeInvalidState, "msg.dataset: %q no longer takes part in study %d", m.Dataset, j.ID)
	}
	if st.Done {
		return nil, errf(CodeInvalidState, "msg.job: study %d has its final sum; post the result", j.ID)
	}
	if c.height > j.Deadline {
		return nil, errf(CodeExpired, "msg.job: job %d's deadline was height %d", j.ID, j.Deadline)
	}
	if c.height > st.Deadline {
		return nil, errf(CodeExpired, "msg.iteration: iteration %d of study %d was due by height %d; advance the study", st.Iteration, j.ID, st.Deadline)
	}
	if m.Round != st.Round || m.Iteration != st.Iteration {
		return nil, errf(CodeInvalidState, "msg.round: study %d is at round %d iteration %d, not round %d iteration %d", j.ID, st.Round, st.Iteration, m.Round, m.Iteration)
	}
	if err := oneOf("msg.phase", m.Phase, federated.Phases); err != nil {
		return nil, err
	}
	key := KeyStudyContribution(j.ID, st.Round, st.Iteration, m.Dataset)
	if prev, err := getOne[StoredContribution](c.s, key); err != nil {
		return nil, err
	} else if prev != nil {
		return nil, errf(CodeAlreadyExists, "msg.dataset: %q already contributed to round %d iteration %d of study %d", m.Dataset, st.Round, st.Iteration, j.ID)
	}
	want := st.Spec.Len(m.Phase)
	if len(m.Contribution.Masked) != want || len(m.Contribution.Commitments) != want {
		return nil, errf(CodeInvalidField, "msg.masked: a %s contribution of study %d has %d values and %d commitments, got %d and %d",
			m.Phase, j.ID, want, want, len(m.Contribution.Masked), len(m.Contribution.Commitments))
	}
	dv, err := GetDatasetVersion(c.s, site.Dataset, site.Version)
	if err != nil {
		return nil, err
	}
	if dv == nil {
		return nil, errf(CodeInternal, "dataset %q version %d missing", site.Dataset, site.Version)
	}
	bounds, err := st.Spec.Bounds(m.Phase, site.MinCohort, BandTop(dv.RecordBand), site.EpsilonMilli)
	if err != nil {
		return nil, errf(CodeInvalidState, "study %d: %v", j.ID, err)
	}
	// From here on the site has computed on its data: it is charged
	// whatever happens to the study.
	site.Touched = c.addr
	sess := federated.Session{ChainID: c.chainID, Job: j.ID, Round: st.Round, Iteration: st.Iteration, Phase: m.Phase}
	// The proof is verified once, here in the block (CheckCostly checks
	// everything else before the mempool, so only the site's study worker
	// can make the ledger verify one, once per iteration; a failure
	// flags the site and it posts no more). A verdict cached by an earlier
	// run on this node is reused.
	bj, err := json.Marshal(bounds)
	if err != nil {
		return nil, errf(CodeInternal, "study %d: encode bounds: %v", j.ID, err)
	}
	vkey := verifiedKey("contribution", c.tx, c.chainID, fmt.Sprint(j.ID, "/", st.Round, "/", st.Iteration, "/", m.Phase, "/", m.Dataset), string(bj))
	verr, known := c.cache.verdict(vkey)
	if !known && !c.admission {
		verr = verifyContribution(&m.Contribution, sess, m.Dataset, bounds)
		c.cache.remember(vkey, verr)
	}
	if verr != nil {
		ev1 := ev("contribution_flagged", "job", fmt.Sprint(j.ID), "dataset", m.Dataset, "round", fmt.Sprint(st.Round), "iteration", fmt.Sprint(st.Iteration))
		evs, err := c.exclude(j, []string{m.Dataset}, ExcludedFlagged, "bounds proof failed: "+verr.Error(), map[string]string{m.Dataset: evidenceHash(m)})
		return append(ev1, evs...), err
	}
	comms := make([]string, len(m.Contribution.Commitments))
	for i, cm := range m.Contribution.Commitments {
		comms[i] = cm.String()
	}
	ph := sha256.Sum256(m.Contribution.Proof)
	sc := StoredContribution{Dataset: m.Dataset, Round: st.Round, Iteration: st.Iteration, Phase: m.Phase,
		Masked: m.Contribution.Masked, Commitments: comms, ProofHash: hex.EncodeToString(ph[:]), Worker: c.addr, Posted: c.height}
	if err := putState(c.s, key, sc); err != nil {
		return nil, err
	}
	events := ev("post_contribution", "job", fmt.Sprint(j.ID), "dataset", m.Dataset, "round", fmt.Sprint(st.Round), "iteration", fmt.Sprint(st.Iteration), "phase", m.Phase)
	more, err := c.maybeSum(j)
	if err != nil {
		return nil, err
	}
	return append(events, more...), putState(c.s, KeyJob(j.ID), j)
}

// verifyContribution is federated's check of a contribution, replaced
// only by tests that count verifications.
var verifyContribution = func(c *federated.Contribution, s federated.Session, dataset string, b []zk.Interval) error {
	return c.Verify(s, dataset, b)
}

// evidenceHash is the SHA-256 of a contribution's canonical JSON.
func evidenceHash(m *PostContribution) string {
	b, _ := json.Marshal(m)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// maybeSum completes the iteration once every participant has posted.
func (c *txCtx) maybeSum(j *Job) ([]Event, error) {
	st := j.Study
	var posted []*StoredContribution
	for _, d := range st.Participants {
		sc, err := getOne[StoredContribution](c.s, KeyStudyContribution(j.ID, st.Round, st.Iteration, d))
		if err != nil {
			return nil, err
		}
		if sc == nil {
			return nil, nil // waiting for the others
		}
		posted = append(posted, sc)
	}
	// Honest sites replay the same sums and agree on the phase. When they
	// do not, nothing is summed and the round restarts. Nobody is flagged:
	// a majority of datasets or even of institutions could be colluders
	// outvoting an honest site, so a split is not evidence against anyone
	// (a site that keeps splitting the study can only make it fail, as it
	// could by dropping out).
	for _, sc := range posted[1:] {
		if sc.Phase != posted[0].Phase {
			return c.restart(j, "the participants posted different phases")
		}
	}
	phase := posted[0].Phase
	cs := make([]*federated.Contribution, len(posted))
	for i, sc := range posted {
		c, err := sc.contribution()
		if err != nil {
			return nil, errf(CodeInternal, "stored contribution: %v", err)
		}
		cs[i] = c
	}
	if ts := st.Spec.Trees; ts != nil && phase == federated.PhaseStep && st.Iteration >= ts.MaxSteps() {
		return ev("study_failed", "job", fmt.Sprint(j.ID)), c.closeUnsettled(j, JobFailed, fmt.Sprintf("study: a trees study of %d trees of depth %d takes at most %d steps", ts.Trees, ts.Depth, ts.MaxSteps()))
	}
	sum, err := federated.Aggregate(cs)
	if err != nil {
		return c.restart(j, "the masked sum did not open the commitments")
	}
	s := StudySum{Job: j.ID, Iteration: st.Iteration, Round: st.Round, Phase: phase, Participants: slices.Clone(st.Participants), Sum: sum, Height: c.height}
	if err := putState(c.s, KeyStudySum(j.ID, st.Iteration), s); err != nil {
		return nil, err
	}
	events := ev("study_sum", "job", fmt.Sprint(j.ID), "iteration", fmt.Sprint(st.Iteration), "phase", phase, "sites", fmt.Sprint(len(st.Participants)))
	st.Iteration++
	st.Deadline = c.height + int64(st.IterationBlocks)
	if st.Spec.Trees != nil {
		// A trees study takes a round per tree node (MaxSteps bounds
		// them): its job's deadline moves with its iterations, so that a
		// study that keeps progressing is not expired by the chain's job
		// timeout, which is sized for a regression's few rounds.
		j.Deadline = max(j.Deadline, st.Deadline)
	}
	if phase == federated.PhaseFinal {
		st.Done = true
		events = append(events, ev("study_done", "job", fmt.Sprint(j.ID))...)
	}
	return events, nil
}

func (sc *StoredContribution) contribution() (*federated.Contribution, error) {
	c := &federated.Contribution{Masked: sc.Masked}
	for _, s := range sc.Commitments {
		var cm [32]byte
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("commitment %q", s)
		}
		copy(cm[:], b)
		c.Commitments = append(c.Commitments, cm)
	}
	return c, nil
}

// restart ends the current round without a sum and begins the next among
// the same participants, with fresh masks; too many such restarts fail
// the study.
func (c *txCtx) restart(j *Job, why string) ([]Event, error) {
	st := j.Study
	st.Mismatches++
	if st.Mismatches >= MaxStudyMismatches {
		return ev("study_failed", "job", fmt.Sprint(j.ID)), c.closeUnsettled(j, JobFailed, fmt.Sprintf("study: %s %d times", why, st.Mismatches))
	}
	c.newRound(j, st.Participants, why)
	return ev("study_round", "job", fmt.Sprint(j.ID), "round", fmt.Sprint(st.Round), "reason", why), nil
}

// newRound begins the next round among participants.
func (c *txCtx) newRound(j *Job, participants []string, why string) {
	st := j.Study
	last := &st.Rounds[len(st.Rounds)-1]
	last.Ended, last.EndReason = c.height, why
	st.Round++
	st.Participants = slices.Clone(participants)
	st.Deadline = c.height + int64(st.IterationBlocks)
	st.Rounds = append(st.Rounds, StudyRound{Round: st.Round, Participants: slices.Clone(participants), FirstIteration: st.Iteration, Started: c.height})
}

// exclude removes sites from a study (dropped or flagged) and restarts the
// round without them, or fails the study when too few remain. The caller
// stores the job unless the job was closed.
func (c *txCtx) exclude(j *Job, datasets []string, kind, reason string, evidence map[string]string) ([]Event, error) {
	st := j.Study
	var events []Event
	for _, d := range datasets {
		st.Excluded = append(st.Excluded, StudyExclusion{Dataset: d, Kind: kind, Round: st.Round, Iteration: st.Iteration, Height: c.height, Reason: reason, Evidence: evidence[d]})
		events = append(events, ev("study_"+kind, "job", fmt.Sprint(j.ID), "dataset", d, "round", fmt.Sprint(st.Round), "iteration", fmt.Sprint(st.Iteration))...)
		for i := range j.Sites {
			if j.Sites[i].Dataset == d {
				j.Sites[i].Excluded = kind
			}
		}
	}
	rest := slices.DeleteFunc(slices.Clone(st.Participants), func(d string) bool { return slices.Contains(datasets, d) })
	if st.Spec.Trees != nil && st.Iteration > 0 {
		// A trees study does not go on without a site once a sum is in:
		// a parent node's sum over every site less its children's sums
		// over the rest would be the departed site's own histogram.
		events = append(events, ev("study_failed", "job", fmt.Sprint(j.ID))...)
		return events, c.closeUnsettled(j, JobFailed, fmt.Sprintf("study: a trees study cannot continue without a site after its first sum (%d site(s) %s)", len(datasets), kind))
	}
	if orgs := studyOrgs(j, rest); orgs < st.MinSites {
		events = append(events, ev("study_failed", "job", fmt.Sprint(j.ID))...)
		return events, c.closeUnsettled(j, JobFailed, fmt.Sprintf("study: %d institutions remain, the study needs %d", orgs, st.MinSites))
	}
	c.newRound(j, rest, fmt.Sprintf("%d site(s) %s", len(datasets), kind))
	events = append(events, ev("study_round", "job", fmt.Sprint(j.ID), "round", fmt.Sprint(st.Round))...)
	return events, putState(c.s, KeyJob(j.ID), j)
}

func (c *txCtx) advanceStudy(m *AdvanceStudy) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	if j.Status != JobAdmitted {
		return nil, errf(CodeInvalidState, "msg.job: job %d is %s", j.ID, j.Status)
	}
	st := j.Study
	if st == nil {
		return nil, errf(CodeInvalidState, "msg.job: job %d is not a pooled study", j.ID)
	}
	if st.Done {
		return nil, errf(CodeInvalidState, "msg.job: study %d has its final sum; sites post results until the job's deadline %d", j.ID, j.Deadline)
	}
	if c.height <= st.Deadline {
		return nil, errf(CodeInvalidState, "msg.job: iteration %d of study %d is due by height %d", st.Iteration, j.ID, st.Deadline)
	}
	var missing []string
	for _, d := range st.Participants {
		sc, err := getOne[StoredContribution](c.s, KeyStudyContribution(j.ID, st.Round, st.Iteration, d))
		if err != nil {
			return nil, err
		}
		if sc == nil {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		// The last post of an iteration always sums or restarts the
		// round, so a complete iteration is never pending.
		return nil, errf(CodeInternal, "study %d: iteration %d is complete but not summed", j.ID, st.Iteration)
	}
	return c.exclude(j, missing, ExcludedDropped, fmt.Sprintf("missed iteration %d's deadline (height %d)", st.Iteration, st.Deadline), nil)
}

// GetStudySums reads a study's completed sums, in iteration order.
func GetStudySums(r store.Reader, j *Job) ([]StudySum, error) {
	if j.Study == nil {
		return nil, nil
	}
	out := make([]StudySum, 0, j.Study.Iteration)
	for k := range j.Study.Iteration {
		s, err := getOne[StudySum](r, KeyStudySum(j.ID, k))
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, fmt.Errorf("ledger: study %d sum %d missing", j.ID, k)
		}
		out = append(out, *s)
	}
	return out, nil
}

// GetStudyContribution reads one stored (masked) contribution, or nil.
func GetStudyContribution(r store.Reader, job uint64, round, iteration uint32, dataset string) (*StoredContribution, error) {
	return getOne[StoredContribution](r, KeyStudyContribution(job, round, iteration, dataset))
}

// KeyStudyContribution is one site's (masked) contribution to a study:
// job (16 hex), round (8 hex), iteration (8 hex), dataset.
func KeyStudyContribution(job uint64, round, iteration uint32, dataset string) []byte {
	return []byte(fmt.Sprintf("s/scontrib/%016x/%08x/%08x/%s", job, round, iteration, dataset))
}

// KeyStudySum is a study's completed sum of one iteration.
func KeyStudySum(job uint64, iteration uint32) []byte {
	return []byte(fmt.Sprintf("s/ssum/%016x/%08x", job, iteration))
}
