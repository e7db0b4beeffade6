package compute_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// TestRevocationBetweenJobsIsNoDifferencingOracle: a consent event next to
// job admissions is a cue for differencing — a researcher who sees a
// revoke_consent in the audit log between two identical jobs hopes their
// results differ by that one patient. Each job reads consents as of its own
// admission, so the second cohort really is one patient smaller; the data
// holder's query-set-overlap control refuses to release it. The same job
// repeated with no consent change (an identical cohort) is served.
func TestRevocationBetweenJobsIsNoDifferencingOracle(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	wk, people, _ := e.site("northside", "northside-admin", "diff-cvd", 60, 31, ledger.ConsentOptIn)
	const consenting = 30
	wallets := make([]*keys.Key, consenting)
	parallel(consenting, func(i int) {
		wallets[i] = e.patient("northside", people[i], permit(ledger.ScopeDataset, "diff-cvd", "research"))
	})

	rita := e.key("rita-researcher")
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	// One job, run by the data holder's worker: its status and reason.
	jobOnce := func() (string, string) {
		rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{"diff-cvd"}, Analysis: "cohort_count", Params: []byte(`{}`),
			Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
		id, err := client.JobID(rec)
		if err != nil {
			t.Fatal(err)
		}
		w := &compute.Worker{Key: wk, Org: "northside", Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store,
			Noise: rand.NewChaCha8([32]byte{7})}
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		j, err := e.c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j.Status, j.Reason
	}

	if status, reason := jobOnce(); status != ledger.JobCompleted {
		t.Fatalf("first job: %s %q", status, reason)
	}
	if status, reason := jobOnce(); status != ledger.JobCompleted {
		t.Fatalf("the same job again, no consent changed: %s %q (an identical cohort is no difference)", status, reason)
	}
	e.submit(wallets[0], &ledger.RevokeConsent{Seq: 0})
	if status, reason := jobOnce(); status != ledger.JobFailed || reason != "diff-cvd: cohort_overlap" {
		t.Fatalf("the same job after one revocation: %s %q, want failed with diff-cvd: cohort_overlap", status, reason)
	}
}
