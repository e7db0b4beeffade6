package ledger

import (
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/zk"
)

// Issue 10, finding 6: post_step was weaker than post_result — no
// attestation or analysis check; any worker could post arbitrary integers
// on a single-site count job whose policy demanded hardware attestation.
// Its successor, post_contribution, gets the checks of a result: only a
// registered worker of the site's institution (its study worker), only on
// a pooled study (whose analysis every site's policy allowed at
// admission), and only while that worker meets the policy's attestation
// demand — checked when it posts, as a result is.
func TestContributionChecksMatchResults(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(3, 4))

	// cardio's policy demands hardware attestation, and wanda holds a
	// verified SEV-SNP registration under the consortium's pinned policy.
	// (Verifying real evidence is attestation.go's business, tested there:
	// here the records are written as set_attestation_policy and
	// register_worker would store them.)
	pol := jobPolicy(50, RewardSplit{6000, 3000, 1000}, 100, 10_000)
	pol.Analyses.Builtins = []string{"logistic_regression", "cohort_count"}
	pol.ExactRegression, pol.Attestation = true, AttestHardware
	w.ok(w.block(w.sign("alice", &SetPolicy{Dataset: "cardio", Policy: pol})))
	launch := strings.Repeat("ab", 48)
	if err := putState(w.db, KeyAttestationPolicy(AttestTypeSEVSNP), AttestationPolicy{SetAttestationPolicy: SetAttestationPolicy{
		Evidence: AttestTypeSEVSNP, Measurements: []string{launch}, ExpiryBlocks: 1000}, Height: w.h}); err != nil {
		t.Fatal(err)
	}
	if err := putState(w.db, KeyWorker(testAddr("wanda")), Worker{Address: testAddr("wanda"), Org: "hosp-a", Attestation: AttestTypeSEVSNP,
		Measurement: genMeasurement, Registered: w.h, LaunchMeasurement: launch, TCB: strings.Repeat("00", 8),
		AttestedHeight: w.h, EvidenceNotAfter: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	id := w.submit("cardio", "renal", "sleep")
	j := w.job(id)
	if j.Sites[0].StudyWorker != testAddr("wanda") || j.Sites[0].Attestation != AttestHardware {
		t.Fatalf("cardio's site: %+v", j.Sites[0])
	}
	bounds, _ := testSpec.Bounds(federated.PhaseStep, MinCohortFloor, 10_000, 100)

	// alice re-registers wanda as software: her contribution, like her
	// result would be, is refused.
	w.ok(w.block(w.sign("alice", &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement})))
	r := w.block(w.contribute(j, "cardio", federated.PhaseStep, honest(rng, bounds), nil))
	if r[0].Code != CodeUnauthorized {
		t.Fatalf("contribution by a worker below the policy's attestation: %s %s", r[0].Code, r[0].Log)
	}
	post := &PostResult{Job: id, Dataset: "cardio", ContentRoot: jobRoot("cardio"), Measurement: genMeasurement, ResultHash: genMeasurement, Locator: "vault://r"}
	if r := w.block(w.sign("wanda", post)); r[0].Code != CodeUnauthorized && r[0].Code != CodeInvalidState {
		t.Fatalf("result by the same worker: %s %s", r[0].Code, r[0].Log)
	}
	if got := w.job(id).Sites[0].Touched; got != "" {
		t.Fatalf("a refused contribution marked the site touched by %s", got)
	}

	// Another institution's worker cannot contribute for cardio.
	c := w.contribute(j, "sleep", federated.PhaseStep, honest(rng, bounds), nil)
	w.nonces["walt"]-- // c is only a template, never sent
	forged := &PostContribution{}
	tx, err := DecodeTx(c)
	if err != nil {
		t.Fatal(err)
	}
	*forged = *tx.Msg.(*PostContribution)
	forged.Dataset = "cardio"
	if r := w.block(w.sign("walt", forged)); r[0].Code != CodeUnauthorized {
		t.Fatalf("contribution by another institution's worker: %s %s", r[0].Code, r[0].Log)
	}

	// A single-site count job takes no contributions at all.
	w.ok(w.block(w.sign("rita", &SubmitJob{Datasets: []string{"sleep"}, Analysis: "logistic_regression", Params: []byte(`{}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: testEncKey("rita")})))
	forged.Job, forged.Dataset = id+1, "sleep"
	if r := w.block(w.sign("walt", forged)); r[0].Code != CodeInvalidState {
		t.Fatalf("contribution to a job that is no study: %s %s", r[0].Code, r[0].Log)
	}
}

// Before the mempool (CheckCostly, issue 10 finding 2) a contribution gets
// every check but its bounds proof: one from anyone but the site's study
// worker is refused there, without any verification. The proof is
// verified once, in the block — an honest one stored, a forged one
// flagging its site — so no one can make the validators verify more than
// one per site and iteration.
func TestCheckCostlyContribution(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(5, 6))
	id := w.submit("cardio", "renal", "sleep")
	j := w.job(id)
	bounds, _ := testSpec.Bounds(federated.PhaseStep, MinCohortFloor, 10_000, 100)

	calls := 0
	was := verifyContribution
	verifyContribution = func(c *federated.Contribution, s federated.Session, dataset string, b []zk.Interval) error {
		calls++
		return was(c, s, dataset, b)
	}
	t.Cleanup(func() { verifyContribution = was })
	cache := NewTxCache(testChain, 16)
	w.m.UseTxCache(cache)
	check := func(raw []byte) error {
		tx, err := DecodeAndVerifyCached(raw, testChain, cache)
		if err != nil {
			t.Fatal(err)
		}
		return CheckCostly(w.db, testChain, tx, cache, w.now)
	}

	v := honest(rng, bounds)
	forged := slices.Clone(v)
	for k := range forged {
		forged[k] *= 1000
	}
	good := w.contribute(j, "cardio", federated.PhaseStep, honest(rng, bounds), nil)
	bad := w.contribute(j, "sleep", federated.PhaseStep, v, forged)
	for _, raw := range [][]byte{good, bad} {
		if err := check(raw); err != nil {
			t.Fatalf("admission: %v", err)
		}
	}
	if calls != 0 {
		t.Fatalf("%d verifications before the block, want none", calls)
	}
	tx, err := DecodeTx(bad)
	if err != nil {
		t.Fatal(err)
	}
	stolen := *tx.Msg.(*PostContribution)
	stolen.Dataset = "cardio"
	if err := check(mustSign("walt", w.nonces["walt"], &stolen)); CodeOf(err) != CodeUnauthorized || calls != 0 {
		t.Fatalf("another site's worker: %v (%d verifications), want unauthorized before any verification", err, calls)
	}

	r := w.block(good, bad)
	w.ok(r)
	if calls != 2 {
		t.Fatalf("the block made %d verifications, want one per contribution", calls)
	}
	if sc, _ := GetStudyContribution(w.m.block, id, 0, 0, "cardio"); sc == nil {
		t.Fatal("the honest contribution is not stored")
	}
	if !slices.ContainsFunc(r[1].Events, func(e Event) bool { return e.Type == "contribution_flagged" }) {
		t.Fatalf("the forged contribution did not flag its site: %+v", r[1].Events)
	}
}
