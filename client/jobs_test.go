package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

func TestJobs(t *testing.T) {
	ctx := context.Background()
	c := client.New(tn.URL)
	mustOK := func(k *keys.Key, m ledger.Msg) *ledger.TxRecord {
		t.Helper()
		res, err := c.SignAndSubmit(ctx, k, m, true)
		if err == nil {
			err = client.ResultError(res)
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		return res.Result
	}
	north, rita := key(t, "northside-admin"), key(t, "rita-researcher")
	wk, err := keys.Generate("client-worker")
	if err != nil {
		t.Fatal(err)
	}
	poss, err := c.Possession(ctx, wk, "northside")
	if err != nil {
		t.Fatal(err)
	}
	mustOK(north, &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: "northside", Possession: poss})
	measurement := strings.Repeat("a1", 32)
	mustOK(north, &ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement})
	root := strings.Repeat("ce", 32)
	mustOK(north, &ledger.RegisterDataset{ID: "client-jobs", Version: 1, Title: "J", RecordBand: "<100", Schema: []ledger.Field{{Name: "x", Type: "number"}},
		ContentRoot: root, Locator: "vault://j"})
	mustOK(north, &ledger.SetPolicy{Dataset: "client-jobs", Policy: ledger.Policy{Purposes: []string{"public_health"}, Requesters: ledger.Requesters{Anyone: true},
		Analyses: ledger.Analyses{Builtins: []string{"descriptive"}}, MinCohort: 11, EpsilonPerJobMilli: 10, MinEpsilonPerJobMilli: 5, EpsilonTotalMilli: 25, Price: 100,
		Split: ledger.RewardSplit{InstitutionBps: 5000, PatientPoolBps: 5000}, Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}})

	if w, err := c.Worker(ctx, wk.Address()); err != nil || w.Org != "northside" || w.Measurement != measurement {
		t.Fatalf("worker: %+v %v", w, err)
	}
	if ws, err := c.Workers(ctx, "northside"); err != nil || len(ws) != 1 || ws[0].Address != wk.Address() {
		t.Fatalf("northside's workers: %+v %v", ws, err)
	}
	if ws, err := c.Workers(ctx, "nobody"); err != nil || len(ws) != 0 {
		t.Fatalf("nobody's workers: %+v %v", ws, err)
	}
	if _, err := c.Worker(ctx, rita.Address()); !client.IsNotFound(err) {
		t.Fatalf("rita is no worker: %v", err)
	}

	rec := mustOK(rita, &ledger.SubmitJob{Datasets: []string{"client-jobs"}, Analysis: "descriptive", Params: json.RawMessage(`{}`),
		Purpose: "public_health", MaxPrice: 100, ResultKey: rita.EncPub(), EpsilonMilli: 5})
	id, err := client.JobID(rec)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := client.EventAttr(rec, "submit_job", "escrow"); !ok || v != "100" {
		t.Fatalf("escrow attribute: %q %t", v, ok)
	}
	if _, ok := client.EventAttr(rec, "submit_job", "nothing"); ok {
		t.Fatal("an attribute that is not there was found")
	}
	if _, err := client.JobID(&ledger.TxRecord{}); err == nil {
		t.Fatal("JobID of a record without events")
	}
	j, err := c.Job(ctx, id)
	if err != nil || j.Status != ledger.JobAdmitted || j.Escrow != 100 || j.Sites[0].EpsilonMilli != 5 {
		t.Fatalf("job: %+v %v", j, err)
	}
	if js, err := c.Jobs(ctx, client.JobFilter{Requester: rita.Address(), Status: ledger.JobAdmitted, Dataset: "client-jobs"}); err != nil || len(js) != 1 || js[0].ID != id {
		t.Fatalf("jobs: %+v %v", js, err)
	}
	if b, err := c.DatasetBudget(ctx, "client-jobs"); err != nil || b.SpentMilli != 5 || b.RemainingMilli != 20 || b.TotalMilli != 25 || b.PerJobMilli != 10 {
		t.Fatalf("budget: %+v %v", b, err)
	}

	mustOK(wk, &ledger.PostResult{Job: id, Dataset: "client-jobs", ContentRoot: root, Measurement: measurement, ResultHash: strings.Repeat("00", 32), Locator: "vault://r"})
	if js, err := c.Jobs(ctx, client.JobFilter{Status: ledger.JobCompleted, Dataset: "client-jobs"}); err != nil || len(js) != 1 || js[0].Sites[0].Result == nil {
		t.Fatalf("completed jobs: %+v %v", js, err)
	}
	if b, err := c.DatasetBudget(ctx, "client-jobs"); err != nil || b.PatientPool != 50 {
		t.Fatalf("budget: %+v %v", b, err)
	}

	_, err = c.Jobs(ctx, client.JobFilter{Status: "running"})
	if e := apiError(t, err, "invalid_field"); e.Param != "status" || e.Status != 400 {
		t.Fatalf("bad status: %+v", e)
	}
	if _, err := c.Job(ctx, 1<<40); !client.IsNotFound(err) {
		t.Fatalf("missing job: %v", err)
	}
	if _, err := c.DatasetBudget(ctx, "nothing"); !client.IsNotFound(err) {
		t.Fatalf("missing dataset: %v", err)
	}
}
