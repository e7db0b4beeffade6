package compute_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
)

// Params that do not fit the schema reach a worker only if the requester
// skipped the check (the CLI and the API make it before signing). The
// worker refuses them before opening the data, with invalid_params and a
// refusal on the ledger naming the code, the parameter and the column —
// and, no data having been read, the requester and the budget are
// refunded.
func TestWorkerRefusesParamsBeforeReadingData(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	wk, _, _ := e.site("st-mary", "st-mary-admin", "pr-cvd", 200, 7, ledger.ConsentOptOut)
	rita := e.key("rita-researcher")
	before := balance(e, rita.Address())
	budget, err := e.c.DatasetBudget(ctx, "pr-cvd")
	if err != nil {
		t.Fatal(err)
	}

	// "sex" is a code column: not a regression feature.
	params := json.RawMessage(`{"outcome":"cvd_10y","features":["age","sex"]}`)
	rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{"pr-cvd"}, Analysis: "logistic_regression",
		Params: params, Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	id, err := client.JobID(rec)
	if err != nil {
		t.Fatal(err)
	}
	w := &compute.Worker{Key: wk, Org: "st-mary", Measurement: measurement, Vault: e.v, Ledger: e.c}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := e.c.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ledger.JobFailed || j.Reason != "pr-cvd: invalid_params" {
		t.Fatalf("job %s %q, want failed with pr-cvd: invalid_params", j.Status, j.Reason)
	}
	want := ledger.Refusal{Code: "wrong_type", Param: "features[1]", Column: "sex"}
	if r := j.Sites[0].Refusal; r == nil || *r != want {
		t.Fatalf("refusal %+v, want %+v", r, want)
	}
	if j.Sites[0].Touched != "" {
		t.Errorf("site touched by %s: a params refusal reads no data", j.Sites[0].Touched)
	}
	if got := balance(e, rita.Address()); got != before {
		t.Errorf("requester balance %d, want %d (refunded)", got, before)
	}
	if b, err := e.c.DatasetBudget(ctx, "pr-cvd"); err != nil || b.SpentMilli != budget.SpentMilli {
		t.Errorf("budget %+v %v, want %d milli spent as before", b, err, budget.SpentMilli)
	}
	// What the ledger recorded is what the requester's own check says.
	dv, err := e.c.DatasetVersion(ctx, "pr-cvd", j.Sites[0].Version)
	if err != nil {
		t.Fatal(err)
	}
	err = jobparams.Check(j.Analysis, j.Params, dv.Schema)
	if e, ok := err.(*jobparams.Error); !ok || string(e.Code) != want.Code || e.Param != want.Param || e.Column != want.Column {
		t.Errorf("the requester's check says %v", err)
	}

	// A parameter only the data refuses — the log of smoker, which is 0 for
	// non-smokers — fits the schema; the worker refuses it after reading
	// the data (analysis_error, charged), naming the parameter.
	rec = e.submit(rita, &ledger.SubmitJob{Datasets: []string{"pr-cvd"}, Analysis: "logistic_regression",
		Params: json.RawMessage(`{"outcome":"cvd_10y","features":["age","log(smoker)"]}`), Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	if id, err = client.JobID(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if j, err = e.c.Job(ctx, id); err != nil {
		t.Fatal(err)
	}
	want = ledger.Refusal{Code: "bad_value", Param: "features[1]"}
	if j.Reason != "pr-cvd: analysis_error" || j.Sites[0].Refusal == nil || *j.Sites[0].Refusal != want || j.Sites[0].Touched == "" {
		t.Fatalf("job %s %q refusal %+v touched %q, want analysis_error with %+v, charged", j.Status, j.Reason, j.Sites[0].Refusal, j.Sites[0].Touched, want)
	}
}

// The ledger keeps its own list of refusal codes (it imports nothing of
// the analyses); it must be exactly jobparams's.
func TestRefusalCodesAgree(t *testing.T) {
	var codes []string
	for _, c := range jobparams.Codes {
		codes = append(codes, string(c))
	}
	if !slices.Equal(codes, ledger.RefusalCodes) {
		t.Errorf("jobparams codes %v, ledger refusal codes %v", codes, ledger.RefusalCodes)
	}
}
