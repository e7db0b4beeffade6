package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// jobID is the id in a committed submit_job's events.
func jobID(t *testing.T, res *api.TxSubmitted) uint64 {
	t.Helper()
	for _, e := range res.Result.Events {
		for _, a := range e.Attrs {
			if e.Type == "submit_job" && a.Key == "job" {
				id, err := strconv.ParseUint(a.Value, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
		}
	}
	t.Fatalf("no job id in the events %+v", res.Result.Events)
	return 0
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func balance(t *testing.T, addr string) uint64 {
	t.Helper()
	return getOK[ledger.Account](t, "/v1/accounts/"+addr).Balance
}

// TestJobs walks a job through the API: a worker of St Mary's, a dataset
// with a priced policy, a job admitted, a result settling it, a job failed
// and refunded, and a job refused for want of privacy budget.
func TestJobs(t *testing.T) {
	const ds = "api-jobs"
	st, rita := key(t, "st-mary-admin"), key(t, "rita-researcher")
	wk, err := keys.Generate("api-worker")
	if err != nil {
		t.Fatal(err)
	}
	do(t, "st-mary-admin", &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: "st-mary",
		Possession: ledger.ProvePossession(wk.Sign, apitest.ChainID, "st-mary")})
	measurement := strings.Repeat("5e", 32)
	do(t, "st-mary-admin", &ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement})
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: ds, Version: 1, Title: "Jobs", RecordBand: "1k-10k",
		Schema: []ledger.Field{{Name: "age", Type: "integer"}}, ContentRoot: testRoot, Locator: "vault://st-mary/jobs"})
	do(t, "st-mary-admin", &ledger.SetPolicy{Dataset: ds, Policy: ledger.Policy{
		Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
		Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: 11, EpsilonPerJobMilli: 400, EpsilonTotalMilli: 1000,
		Price: 20, Split: ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
		Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}})

	t.Run("workers", func(t *testing.T) {
		w := getOK[ledger.Worker](t, "/v1/workers/"+strings.ToUpper(wk.Address()))
		if w.Address != wk.Address() || w.Org != "st-mary" || w.Attestation != ledger.AttestTypeSoftware || w.Measurement != measurement || w.Registered == 0 {
			t.Fatalf("worker: %+v", w)
		}
		has := func(l api.WorkerList) bool {
			return slices.ContainsFunc(l.Workers, func(w ledger.Worker) bool { return w.Address == wk.Address() })
		}
		if l := getOK[api.WorkerList](t, "/v1/workers"); !has(l) {
			t.Fatalf("all workers: %+v", l)
		}
		if l := getOK[api.WorkerList](t, "/v1/workers?org=st-mary"); !has(l) {
			t.Fatalf("st-mary's workers: %+v", l)
		}
		if l := getOK[api.WorkerList](t, "/v1/workers?org=lakeview"); l.Workers == nil || len(l.Workers) != 0 {
			t.Fatalf("lakeview's workers: %+v", l)
		}
	})

	submit := &ledger.SubmitJob{Datasets: []string{ds}, Analysis: "cohort_count", Params: json.RawMessage(`{"where": {"age": {"gte": 40}}}`),
		Purpose: "research", MaxPrice: 20, ResultKey: rita.EncPub()}
	budget := func(t *testing.T) api.DatasetBudget {
		t.Helper()
		return getOK[api.DatasetBudget](t, "/v1/datasets/"+ds+"/budget")
	}

	t.Run("settled", func(t *testing.T) {
		rita0, st0, wk0 := balance(t, rita.Address()), balance(t, st.Address()), balance(t, wk.Address())
		id := jobID(t, do(t, "rita-researcher", submit))
		j := getOK[ledger.Job](t, fmt.Sprintf("/v1/jobs/%d", id))
		if j.ID != id || j.Status != ledger.JobAdmitted || j.Requester != rita.Address() || j.Escrow != 20 || len(j.Sites) != 1 ||
			j.Sites[0].ContentRoot != testRoot || j.Sites[0].Payee != st.Address() || j.Sites[0].EpsilonMilli != 400 ||
			compact(t, j.Params) != `{"where":{"age":{"gte":40}}}` || j.Deadline <= j.Admitted {
			t.Fatalf("job: %+v", j)
		}
		if b := budget(t); b != (api.DatasetBudget{Dataset: ds, SpentMilli: 400, TotalMilli: 1000, RemainingMilli: 600, PerJobMilli: 400}) {
			t.Fatalf("budget after admission: %+v", b)
		}
		if got := balance(t, rita.Address()); got != rita0-20 {
			t.Fatalf("rita's balance %d, want %d", got, rita0-20)
		}
		ids := func(q string) []uint64 {
			var out []uint64
			for _, j := range getOK[api.JobList](t, "/v1/jobs"+q).Jobs {
				out = append(out, j.ID)
			}
			return out
		}
		for q, want := range map[string]bool{
			"":                               true,
			"?requester=" + rita.Address():   true,
			"?status=admitted&dataset=" + ds: true,
			"?status=completed":              false,
			"?dataset=" + ds + "x":           false,
			"?requester=" + st.Address():     false,
			"?requester=" + strings.ToUpper(rita.Address()) + "&status=admitted": true,
		} {
			if got := slices.Contains(ids(q), id); got != want {
				t.Errorf("GET /v1/jobs%s lists job %d: %t, want %t", q, id, got, want)
			}
		}

		commit(t, sign(t, wk, &ledger.PostResult{Job: id, Dataset: ds, ContentRoot: testRoot, Measurement: measurement,
			ResultHash: strings.Repeat("0f", 32), Locator: "vault://st-mary/results/1"}), ledger.CodeOK)
		j = getOK[ledger.Job](t, fmt.Sprintf("/v1/jobs/%d", id))
		if r := j.Sites[0].Result; j.Status != ledger.JobCompleted || j.Escrow != 0 || j.Closed == 0 || r == nil || r.Worker != wk.Address() || r.Measurement != measurement {
			t.Fatalf("settled job: %+v", j)
		}
		// 20 tokens: 12 to the publisher, 6 to the pool, 2 to the worker.
		if b := budget(t); b.SpentMilli != 400 || b.PatientPool != 6 {
			t.Fatalf("budget after settlement: %+v", b)
		}
		if got := balance(t, st.Address()); got != st0+12 {
			t.Fatalf("st-mary-admin's balance %d, want %d", got, st0+12)
		}
		if got := balance(t, wk.Address()); got != wk0+2 {
			t.Fatalf("worker's balance %d, want %d", got, wk0+2)
		}
		if l := getOK[api.JobList](t, "/v1/jobs?status=completed&dataset="+ds); !slices.ContainsFunc(l.Jobs, func(j ledger.Job) bool { return j.ID == id }) {
			t.Fatalf("completed jobs: %+v", l)
		}
	})

	t.Run("failed", func(t *testing.T) {
		rita0 := balance(t, rita.Address())
		id := jobID(t, do(t, "rita-researcher", submit))
		if b := budget(t); b.SpentMilli != 800 || b.RemainingMilli != 200 {
			t.Fatalf("budget after admission: %+v", b)
		}
		// Nobody may expire it before its deadline.
		res := commit(t, sign(t, st, &ledger.ExpireJob{Job: id}), ledger.CodeInvalidState)
		if !strings.Contains(res.Result.Log, "runs until height") {
			t.Fatalf("early expiry: %s", res.Result.Log)
		}
		commit(t, sign(t, wk, &ledger.FailJob{Job: id, Dataset: ds, Reason: "data_unavailable"}), ledger.CodeOK)
		j := getOK[ledger.Job](t, fmt.Sprintf("/v1/jobs/%d", id))
		if j.Status != ledger.JobFailed || j.Escrow != 0 || j.Reason != ds+": data_unavailable" {
			t.Fatalf("failed job: %+v", j)
		}
		if b := budget(t); b.SpentMilli != 400 || b.RemainingMilli != 600 {
			t.Fatalf("budget after failure: %+v", b)
		}
		if got := balance(t, rita.Address()); got != rita0 {
			t.Fatalf("rita's balance %d, want %d (refunded)", got, rita0)
		}
		if l := getOK[api.JobList](t, "/v1/jobs?status=failed&requester="+rita.Address()); !slices.ContainsFunc(l.Jobs, func(j ledger.Job) bool { return j.ID == id }) {
			t.Fatalf("failed jobs: %+v", l)
		}
	})

	t.Run("budget exhausted", func(t *testing.T) {
		do(t, "rita-researcher", submit)
		res := commit(t, sign(t, rita, submit), ledger.CodeBudgetExhausted)
		if !strings.Contains(res.Result.Log, "has spent 800 of its 1000 milli-epsilon") {
			t.Fatalf("over budget: %s", res.Result.Log)
		}
		if b := budget(t); b.SpentMilli != 800 || b.RemainingMilli != 200 {
			t.Fatalf("budget: %+v", b)
		}
	})

	t.Run("no policy", func(t *testing.T) {
		do(t, "st-mary-admin", &ledger.RegisterDataset{ID: "api-jobs-nopolicy", Version: 1, Title: "No policy", RecordBand: "<100",
			Schema: []ledger.Field{{Name: "age", Type: "integer"}}, ContentRoot: testRoot, Locator: "vault://st-mary/np"})
		if b := getOK[api.DatasetBudget](t, "/v1/datasets/api-jobs-nopolicy/budget"); b != (api.DatasetBudget{Dataset: "api-jobs-nopolicy"}) {
			t.Fatalf("budget without a policy: %+v", b)
		}
	})
}

func TestJobsBadParamsAndNotFound(t *testing.T) {
	for _, c := range []struct{ path, param string }{
		{"/v1/workers/xyz", "address"},
		{"/v1/workers/" + strings.Repeat("g", 40), "address"},
		{"/v1/jobs/x", "id"},
		{"/v1/jobs/-1", "id"},
		{"/v1/jobs?status=running", "status"},
		{"/v1/jobs?requester=bob", "requester"},
		{"/v1/datasets/a%2Fb/budget", "id"},
	} {
		e := apiErr(t, "GET", c.path, nil, 400, "invalid_field")
		if e.Param != c.param || !strings.HasPrefix(e.Message, c.param+": ") {
			t.Errorf("GET %s: %+v, want param %s", c.path, e, c.param)
		}
	}
	for _, path := range []string{
		"/v1/workers/" + strings.Repeat("0", 40),
		"/v1/workers/" + key(t, "rita-researcher").Address(), // an account, not a worker
		"/v1/jobs/999999",
		"/v1/datasets/nothing/budget",
	} {
		apiErr(t, "GET", path, nil, 404, "not_found")
	}
}
