package ledger

import (
	mrand "math/rand/v2"
	"testing"

	"github.com/medchain/medchain/federated"
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
	// verified SGX registration. (No SGX verifier runs on this machine:
	// the registration is written as register_worker would store it.)
	pol := jobPolicy(50, RewardSplit{6000, 3000, 1000}, 100, 10_000)
	pol.Analyses.Builtins = []string{"logistic_regression", "cohort_count"}
	pol.ExactRegression, pol.Attestation = true, AttestHardware
	w.ok(w.block(w.sign("alice", &SetPolicy{Dataset: "cardio", Policy: pol})))
	if err := putJSON(w.db, KeyWorker(testAddr("wanda")), Worker{Address: testAddr("wanda"), Org: "hosp-a", Attestation: AttestTypeSGX,
		Measurement: genMeasurement, Registered: w.h}); err != nil {
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
