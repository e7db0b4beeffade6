package compute_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/zk"
)

// studySite is one institution of a study test.
type studySite struct {
	org, admin, dataset string
	n                   int
	worker              *keys.Key
}

// studyEnv starts a node and publishes a synthetic cohort at each site.
func studyEnv(t *testing.T, specs []studySite) (*env, []studySite, context.Context, func()) {
	t.Helper()
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	e := newEnv(t, ctx, n)
	for i := range specs {
		specs[i].worker, _, _ = e.site(specs[i].org, specs[i].admin, specs[i].dataset, specs[i].n, int64(40+i), ledger.ConsentOptOut)
	}
	return e, specs, ctx, func() { cancel(); n.Stop() }
}

func (e *env) worker(s studySite) *compute.Worker {
	store, err := compute.OpenResultStore(compute.ResultsDir(e.n.Home))
	if err != nil {
		e.t.Fatal(err)
	}
	return &compute.Worker{Key: s.worker, Org: s.org, Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// runUntil runs the given sites' workers until the job closes or stop says
// so, at most rounds times.
func (e *env) runUntil(id uint64, sites []studySite, stop func(*ledger.Job) bool) *ledger.Job {
	e.t.Helper()
	for round := 0; round < 1000; round++ {
		for _, s := range sites {
			if _, err := e.worker(s).RunOnce(e.ctx); err != nil {
				e.t.Fatalf("%s worker: %v", s.org, err)
			}
		}
		j, err := e.c.Job(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted || (stop != nil && stop(j)) {
			return j
		}
		time.Sleep(50 * time.Millisecond) // let blocks pass (deadlines are in blocks)
	}
	e.t.Fatalf("job %d still running", id)
	return nil
}

var studyFeatures = []string{"age", "sbp", "total_chol", "hdl", "smoker"}

func (e *env) submitStudy(datasets []string, params analysis.RegressionParams, blocks uint32) uint64 {
	e.t.Helper()
	rita := e.key("rita-researcher")
	raw, _ := json.Marshal(params)
	m := e.study(&ledger.SubmitJob{Datasets: datasets, Analysis: "logistic_regression", Params: raw,
		Purpose: "research", MaxPrice: 10000, ResultKey: rita.EncPub()})
	if blocks != 0 {
		m.Study.IterationBlocks = blocks
	}
	id, err := client.JobID(e.submit(rita, m))
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// TestStudyRefusesSmallCohortAndCharges reruns the attack that read a
// patient off the ledger: a filter narrows one site's cohort to a handful
// of patients. That site refuses before contributing anything — no
// contribution of it exists on the ledger, no sum was taken — the refusal
// names the rule and no count, and it is charged: its epsilon stays spent
// and the researcher pays its price, so the oracle is not free.
func TestStudyRefusesSmallCohortAndCharges(t *testing.T) {
	e, sites, _, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 300},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 300},
	})
	defer stop()
	rita := e.key("rita-researcher")
	before, _ := e.c.Account(e.ctx, rita.Address())
	v90 := 75.0
	id := e.submitStudy([]string{"sm", "ns"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures,
		Filter: analysis.Filter{{Column: "age", Op: ">=", Value: &v90}}}, 0)
	j := e.runUntil(id, sites, nil)
	if j.Status != ledger.JobFailed || !slices.Contains([]string{"sm: cohort_too_small", "ns: cohort_too_small"}, j.Reason) {
		t.Fatalf("job %d: %s (%s), want failed with cohort_too_small", id, j.Status, j.Reason)
	}
	view, err := e.c.Study(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Sums) != 0 || len(view.Posted) != 0 {
		t.Fatalf("a refused study has %d sums and %d contributions on the ledger", len(view.Sums), len(view.Posted))
	}
	after, _ := e.c.Account(e.ctx, rita.Address())
	charged := false
	for _, s := range j.Sites {
		b, err := e.c.DatasetBudget(e.ctx, s.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		if s.Touched != "" {
			charged = true
			if b.SpentMilli < s.EpsilonMilli {
				t.Errorf("%s refused after reading data but its epsilon was refunded (spent %d)", s.Dataset, b.SpentMilli)
			}
		}
	}
	if !charged || before.Balance-after.Balance == 0 {
		t.Fatalf("the refusal cost nothing: balance %d → %d", before.Balance, after.Balance)
	}
}

// TestStudyDropout: one of four sites dies mid-study, after the first
// iterations. After the iteration's deadline a worker advances the study;
// the missing site is recorded as dropped, the round restarts among three
// with fresh masks from the coefficients of the unfinished iteration, and
// the study completes on them. The dropped site, which computed on its
// data, is charged its epsilon but not paid (its price goes back to the
// requester); the others are paid and charged.
func TestStudyDropout(t *testing.T) {
	e, sites, _, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 250},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 250},
		{org: "lakeview", admin: "lakeview-admin", dataset: "lv", n: 250},
		{org: "acme-pharma", admin: "acme-admin", dataset: "rs", n: 250},
	})
	defer stop()
	rita := e.key("rita-researcher")
	before, _ := e.c.Account(e.ctx, rita.Address())
	start := time.Now()
	id := e.submitStudy([]string{"sm", "ns", "lv", "rs"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures}, 150)
	// All four take part in the first iterations; then acme-pharma's
	// worker dies.
	j := e.runUntil(id, sites, func(j *ledger.Job) bool { return j.Study.Iteration >= 2 })
	if j.Study.Round != 0 || j.Study.Iteration < 2 {
		t.Fatalf("before the kill: %+v", j.Study)
	}
	killedAt := j.Study.Iteration
	j = e.runUntil(id, sites[:3], nil)
	t.Logf("4-site study with one dropout: %s in %v", j.Status, time.Since(start).Round(time.Millisecond))
	if j.Status != ledger.JobCompleted {
		t.Fatalf("job %d: %s (%s)", id, j.Status, j.Reason)
	}
	st := j.Study
	if len(st.Excluded) != 1 || st.Excluded[0].Dataset != "rs" || st.Excluded[0].Kind != ledger.ExcludedDropped {
		t.Fatalf("exclusions %+v, want rs dropped", st.Excluded)
	}
	if !slices.Equal(st.Participants, []string{"sm", "ns", "lv"}) || st.Round != 1 || st.Rounds[1].FirstIteration < killedAt {
		t.Fatalf("finished in round %d with %v; rounds %+v", st.Round, st.Participants, st.Rounds)
	}
	for _, s := range j.Sites {
		b, _ := e.c.DatasetBudget(e.ctx, s.Dataset)
		switch s.Dataset {
		case "rs":
			// It contributed before it died: charged, never paid.
			if s.Result != nil || s.Touched == "" || b.SpentMilli != s.EpsilonMilli || b.PatientPool != 0 {
				t.Errorf("dropped site: result %v touched %q spent %d pool %d", s.Result, s.Touched, b.SpentMilli, b.PatientPool)
			}
		default:
			if s.Result == nil || b.SpentMilli != s.EpsilonMilli || b.PatientPool == 0 {
				t.Errorf("%s: result %v spent %d pool %d", s.Dataset, s.Result, b.SpentMilli, b.PatientPool)
			}
		}
	}
	// Tokens: the requester paid the three finishing sites' prices only.
	if after, _ := e.c.Account(e.ctx, rita.Address()); before.Balance-after.Balance != 300 {
		t.Errorf("requester paid %d, want 300 (three sites at 100)", before.Balance-after.Balance)
	}
	// The three results agree and describe the three sites' cohorts only.
	var n []int64
	for _, s := range j.Sites[:3] {
		res, _, err := compute.FetchResult(e.ctx, e.c, j, s.Dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		var rel compute.PooledRelease
		if err := json.Unmarshal(res.Release, &rel); err != nil {
			t.Fatal(err)
		}
		n = append(n, rel.Regression.N)
	}
	if n[0] != n[1] || n[1] != n[2] || n[0] > 800 {
		t.Fatalf("pooled N per site result %v", n)
	}
}

// TestStudyFlagsBadContributions: a dishonest site posts a contribution
// whose committed values break the study's bounds, with a proof made for
// honest values. Every such contribution is rejected before anything is
// summed, the site is flagged with the hash of what it sent and excluded,
// and the round restarts without it. (Honest runs — every other study test
// — end with no flags.)
func TestStudyFlagsBadContributions(t *testing.T) {
	e, sites, ctx, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 250},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 250},
		{org: "lakeview", admin: "lakeview-admin", dataset: "lv", n: 250},
	})
	defer stop()
	status, err := e.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := sites[2]
	for _, tc := range []struct {
		name  string
		forge func(v []int64)
	}{
		{"scaled x1000", func(v []int64) {
			for j := range v {
				v[j] *= 1000
			}
		}},
		{"negated", func(v []int64) {
			for j := range v {
				v[j] = -v[j]
			}
		}},
		{"out of range", func(v []int64) { v[len(v)-1] = federated.Limit - 2 }},
		{"false N", func(v []int64) { v[0] = 5000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.submitStudy([]string{"sm", "ns", "lv"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures}, 0)
			j, err := e.c.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			honest := e.honestStep(j, bad)
			forged := slices.Clone(honest)
			tc.forge(forged)
			e.postForged(j, bad, status.ChainID, honest, forged)
			j = e.runUntil(id, sites[:2], nil)
			if j.Status != ledger.JobCompleted {
				t.Fatalf("job %d: %s (%s)", id, j.Status, j.Reason)
			}
			x := j.Study.Excluded
			if len(x) != 1 || x[0].Dataset != "lv" || x[0].Kind != ledger.ExcludedFlagged || len(x[0].Evidence) != 64 {
				t.Fatalf("exclusions %+v, want lv flagged with evidence", x)
			}
			lv := j.Sites[2]
			if lv.Result != nil || lv.Excluded != ledger.ExcludedFlagged {
				t.Fatalf("flagged site: %+v", lv)
			}
		})
	}
}

// honestStep is what site s would contribute to iteration 0: its consented
// (here: every) row's Newton step at β = 0, encoded.
func (e *env) honestStep(j *ledger.Job, s studySite) []int64 {
	e.t.Helper()
	i := slices.IndexFunc(j.Sites, func(x ledger.JobSite) bool { return x.Dataset == s.dataset })
	site := j.Sites[i]
	id, err := vault.NewIdentity(s.worker.Enc)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := e.v.Open(site.Dataset, site.Version, site.ContentRoot, id)
	if err != nil {
		e.t.Fatal(err)
	}
	tbl, err := compute.LoadTable(v)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := analysis.NewDesign(tbl, "cvd_10y", studyFeatures, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	step, err := analysis.LocalStep(d, make([]float64, d.P()), analysis.Logit)
	if err != nil {
		e.t.Fatal(err)
	}
	step.N, step.Events = 0, 0
	enc, err := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}.Encode(step)
	if err != nil {
		e.t.Fatal(err)
	}
	return enc
}

// postForged posts, as site s's worker, commitments and masked values of
// forged with a bounds proof made for honest.
func (e *env) postForged(j *ledger.Job, s studySite, chainID string, honest, forged []int64) {
	e.t.Helper()
	var peers []federated.Peer
	self := -1
	for _, site := range j.Sites {
		a, err := e.c.Account(e.ctx, site.StudyWorker)
		if err != nil {
			e.t.Fatal(err)
		}
		if site.Dataset == s.dataset {
			self = len(peers)
		}
		peers = append(peers, federated.Peer{Site: site.Dataset, Key: a.EncKey})
	}
	sess := federated.Session{ChainID: chainID, Job: j.ID, Round: 0, Iteration: 0, Phase: federated.PhaseStep}
	m, err := federated.PairMasks(s.worker.Enc, self, peers, sess, len(honest))
	if err != nil {
		e.t.Fatal(err)
	}
	bounds, err := j.Study.Spec.Bounds(federated.PhaseStep, j.Sites[self].MinCohort, 999, j.Sites[self].EpsilonMilli)
	if err != nil {
		e.t.Fatal(err)
	}
	proof, err := zk.ProveBounds(federated.ProofContext(sess, s.dataset), honest, m.Blindings, bounds, rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	pb, _ := proof.MarshalBinary()
	cs, err := zk.CommitValues(forged, m.Blindings)
	if err != nil {
		e.t.Fatal(err)
	}
	masked, _ := m.Apply(forged)
	r, err := e.c.SignAndSubmit(e.ctx, s.worker, &ledger.PostContribution{Job: j.ID, Dataset: s.dataset, Phase: federated.PhaseStep,
		Contribution: federated.Contribution{Masked: masked, Commitments: cs, Proof: pb}}, true)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := client.ResultError(r); err != nil {
		e.t.Fatalf("the forged contribution was refused instead of flagged: %v", err)
	}
	found := false
	for _, ev := range r.Result.Events {
		found = found || ev.Type == "contribution_flagged"
	}
	if !found {
		e.t.Fatalf("no contribution_flagged event: %+v", r.Result.Events)
	}
}

// TestStudyOverlapRefused: two pooled studies whose cohorts differ at a
// site by fewer than the minimum cohort (a filter that drops a few of the
// oldest patients) — the second is refused with cohort_overlap and charged.
func TestStudyOverlapRefused(t *testing.T) {
	e, sites, _, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 300},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 300},
	})
	defer stop()
	first := e.submitStudy([]string{"sm", "ns"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures}, 0)
	if j := e.runUntil(first, sites, nil); j.Status != ledger.JobCompleted {
		t.Fatalf("first study: %s (%s)", j.Status, j.Reason)
	}
	// The oldest few patients at either site: find an age cut that drops
	// between 1 and 10 of them at some site.
	cut := e.ageCutDropping(sites, 1, 10)
	second := e.submitStudy([]string{"sm", "ns"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures,
		Filter: analysis.Filter{{Column: "age", Op: "<", Value: &cut}}}, 0)
	j := e.runUntil(second, sites, nil)
	if j.Status != ledger.JobFailed || !slices.Contains([]string{"sm: cohort_overlap", "ns: cohort_overlap"}, j.Reason) {
		t.Fatalf("second study: %s (%s), want failed with cohort_overlap", j.Status, j.Reason)
	}
	if view, _ := e.c.Study(e.ctx, second); len(view.Sums) != 0 {
		t.Fatalf("the refused study summed %d iterations", len(view.Sums))
	}
}

// ageCutDropping finds an age threshold below which all but lo..hi of
// some site's patients fall.
func (e *env) ageCutDropping(sites []studySite, lo, hi int) float64 {
	e.t.Helper()
	for _, s := range sites {
		ds, err := e.c.Dataset(e.ctx, s.dataset)
		if err != nil {
			e.t.Fatal(err)
		}
		id, _ := vault.NewIdentity(s.worker.Enc)
		v, err := e.v.Open(s.dataset, ds.LatestVersion, ds.Latest.ContentRoot, id)
		if err != nil {
			e.t.Fatal(err)
		}
		tbl, err := compute.LoadTable(v)
		if err != nil {
			e.t.Fatal(err)
		}
		age, _ := tbl.Column("age")
		ages := slices.Clone(age.Values)
		slices.Sort(ages)
		for k := lo; k <= hi && k < len(ages); k++ {
			if c := ages[len(ages)-k]; ages[len(ages)-k-1] < c {
				return c
			}
		}
	}
	e.t.Fatal("no age cut drops a few patients")
	return 0
}

// TestPrivateStudy: a differentially private pooled study end to end.
// Every site adds its own noise before masking, the ledger sums, every
// site replays the same fixed rounds and releases the same noisy model.
// (Coverage of its intervals is TestPooledPrivateCoversTheTruth in
// outputctl; here a large epsilon keeps a small cohort's fit finite.)
func TestPrivateStudy(t *testing.T) {
	e, sites, ctx, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 400},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 400},
		{org: "lakeview", admin: "lakeview-admin", dataset: "lv", n: 400},
	})
	defer stop()
	for _, s := range sites {
		pol, err := e.c.Policy(ctx, s.dataset)
		if err != nil {
			t.Fatal(err)
		}
		pol.SetHeight, pol.EpsilonPerJobMilli, pol.EpsilonTotalMilli, pol.ExactRegression = 0, 60_000, 600_000, false
		e.submit(e.key(s.admin), &ledger.SetPolicy{Dataset: s.dataset, Policy: *pol})
	}
	bounds := []analysis.Bounds{{Lower: 0, Upper: 130}, {Lower: 0, Upper: 1}}
	rita := e.key("rita-researcher")
	raw, _ := json.Marshal(map[string]any{"outcome": "cvd_10y", "features": []string{"age", "smoker"},
		"private": map[string]any{"bounds": bounds, "rounds": 4}})
	m := e.study(&ledger.SubmitJob{Datasets: []string{"sm", "ns", "lv"}, Analysis: "logistic_regression", Params: raw,
		Purpose: "research", MaxPrice: 10000, ResultKey: rita.EncPub()})
	if m.Study.Spec.Private == nil || m.Study.Spec.Private.Rounds != 4 {
		t.Fatalf("planned %+v", m.Study.Spec)
	}
	id, err := client.JobID(e.submit(rita, m))
	if err != nil {
		t.Fatal(err)
	}
	j := e.runUntil(id, sites, nil)
	if j.Status != ledger.JobCompleted || len(j.Study.Excluded) != 0 {
		t.Fatalf("job %d: %s (%s) %+v", id, j.Status, j.Reason, j.Study)
	}
	if view, _ := e.c.Study(ctx, id); len(view.Sums) != 5 {
		t.Fatalf("%d sums, want 4 rounds and the counts", len(view.Sums))
	}
	var first []analysis.Coefficient
	for _, s := range j.Sites {
		res, _, err := compute.FetchResult(ctx, e.c, j, s.Dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReleaseKind != "pooled_private_regression" {
			t.Fatalf("release kind %q", res.ReleaseKind)
		}
		var rel struct {
			Regression analysis.Regression `json:"regression"`
			Noisy      bool                `json:"noisy"`
		}
		if err := json.Unmarshal(res.Release, &rel); err != nil {
			t.Fatal(err)
		}
		if !rel.Noisy || rel.Regression.N < 1000 || rel.Regression.N > 1400 {
			t.Fatalf("%s: noisy %v, N %d (1200 rows)", s.Dataset, rel.Noisy, rel.Regression.N)
		}
		if first == nil {
			first = rel.Regression.Coefficients
			t.Logf("private pooled fit: N %d; %s %.3f (SE %.3f), %s %.3f (SE %.3f)", rel.Regression.N,
				first[1].Name, first[1].Estimate, first[1].SE, first[2].Name, first[2].Estimate, first[2].SE)
		} else if first[1].Estimate != rel.Regression.Coefficients[1].Estimate {
			t.Fatalf("%s released a different model", s.Dataset)
		}
	}
}

// TestStudyDifferentPartnersRefused: the sums of exact studies are public,
// so two studies on the same cohorts over {sm, ns, lv} and {sm, ns} would
// give lv's statistics by subtraction — though sm's and ns's cohorts are
// identical (which the overlap rule allows) and lv released once. sm and ns
// refuse the second study: a cohort that went into an exact study with
// other partners does not go into another.
func TestStudyDifferentPartnersRefused(t *testing.T) {
	e, sites, _, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm", n: 250},
		{org: "northside", admin: "northside-admin", dataset: "ns", n: 250},
		{org: "lakeview", admin: "lakeview-admin", dataset: "lv", n: 250},
	})
	defer stop()
	params := analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures}
	first := e.submitStudy([]string{"sm", "ns", "lv"}, params, 0)
	if j := e.runUntil(first, sites, nil); j.Status != ledger.JobCompleted {
		t.Fatalf("first study: %s (%s)", j.Status, j.Reason)
	}
	second := e.submitStudy([]string{"sm", "ns"}, params, 0)
	j := e.runUntil(second, sites[:2], nil)
	if j.Status != ledger.JobFailed || !slices.Contains([]string{"sm: cohort_overlap", "ns: cohort_overlap"}, j.Reason) {
		t.Fatalf("second study: %s (%s), want failed with cohort_overlap", j.Status, j.Reason)
	}
	if view, _ := e.c.Study(e.ctx, second); len(view.Sums) != 0 {
		t.Fatalf("the refused study summed %d iterations", len(view.Sums))
	}
	// The same partners again are fine (identical cohorts, same sums).
	third := e.submitStudy([]string{"sm", "ns", "lv"}, params, 0)
	if j := e.runUntil(third, sites, nil); j.Status != ledger.JobCompleted {
		t.Fatalf("third study: %s (%s)", j.Status, j.Reason)
	}
}
