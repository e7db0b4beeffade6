package compute_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/ledger"
)

// A policy with an epsilon and without exact_regression: an exact
// regression job (no "private" params) is admitted — the ledger does not
// read analysis params — but the worker refuses it with analysis_error,
// and the requester's tokens and the dataset's epsilon are refunded.
func TestWorkerRefusesExactRegressionWithoutPolicy(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	wk, _, _ := e.site("st-mary", "st-mary-admin", "so-cvd", 200, 31, ledger.ConsentOptOut)

	// The data holder withdraws exact regressions.
	pol, err := e.c.Policy(ctx, "so-cvd")
	if err != nil {
		t.Fatal(err)
	}
	pol.ExactRegression, pol.SetHeight = false, 0
	e.submit(e.key("st-mary-admin"), &ledger.SetPolicy{Dataset: "so-cvd", Policy: *pol})

	rita := e.key("rita-researcher")
	before := balance(e, rita.Address())
	rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{"so-cvd"}, Analysis: "logistic_regression",
		Params:  json.RawMessage(`{"outcome":"cvd_10y","features":["age","sbp","total_chol","hdl","smoker"]}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	id, err := client.JobID(rec)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.c.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Sites[0].ExactRegression {
		t.Fatal("the site snapshot has exact_regression although the policy does not")
	}

	w := &compute.Worker{Key: wk, Org: "st-mary", Measurement: measurement, Vault: e.v, Ledger: e.c}
	out, err := w.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outcomes: %+v", out)
	if j, err = e.c.Job(ctx, id); err != nil {
		t.Fatal(err)
	}
	if j.Status != ledger.JobFailed || j.Reason != "so-cvd: analysis_error" {
		t.Fatalf("job %s %q, want failed with so-cvd: analysis_error", j.Status, j.Reason)
	}
	// analysis_error is a refusal made after the data was opened: charged.
	if got := balance(e, rita.Address()); got != before-100 {
		t.Errorf("requester balance %d, want %d (charged)", got, before-100)
	}
	if b, err := e.c.DatasetBudget(ctx, "so-cvd"); err != nil || b.SpentMilli != 500 {
		t.Errorf("so-cvd budget %+v %v: want the job's epsilon spent", b, err)
	}
}
