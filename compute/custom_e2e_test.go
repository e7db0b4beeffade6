package compute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/sandbox"
)

// A custom analysis through a real node: the data holder lists the example
// module's hash in its policy and installs the module for its worker; a
// job naming another hash is refused at admission (code_not_approved); the
// example's job is run in the sandbox and its encrypted result, fetched
// and opened by the requester, is the built-in descriptive analysis's
// release of the same column under the same noise; a job whose recorded
// time limit is too short for the module fails resource_exhausted; a
// worker without the module refuses the job free of charge.
func TestCustomAnalysisEndToEnd(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	wk, people, _ := e.site("st-mary", "st-mary-admin", "so-cvd", 300, 31, ledger.ConsentOptOut)
	wasm, err := os.ReadFile("../sandbox/testdata/meansd.wasm")
	if err != nil {
		t.Fatal(err)
	}
	hash := sandbox.Hash(wasm)

	pol, err := e.c.Policy(ctx, "so-cvd")
	if err != nil {
		t.Fatal(err)
	}
	pol.Analyses.Builtins = append(pol.Analyses.Builtins, "descriptive")
	pol.Analyses.CodeHashes = []string{hash}
	pol.SetHeight = 0
	e.submit(e.key("st-mary-admin"), &ledger.SetPolicy{Dataset: "so-cvd", Policy: *pol})

	rita := e.key("rita-researcher")
	const limits = `"limits":{"memory_pages":1024,"timeout_ms":60000}`
	custom := `{"columns":["sbp"],"outputs":[{"name":"sbp","bounds":{"lower":80,"upper":220}}],` + limits + `}`
	job := func(analysis, params string) *ledger.SubmitJob {
		return &ledger.SubmitJob{Datasets: []string{"so-cvd"}, Analysis: analysis, Params: json.RawMessage(params),
			Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()}
	}

	// Admission: a hash the policy does not list.
	before := balance(e, rita.Address())
	r, err := e.c.SignAndSubmit(ctx, rita, job("code:"+sandbox.Hash([]byte("another module")), custom), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result == nil || r.Result.Code != ledger.CodeCodeNotApproved {
		t.Fatalf("an unlisted hash: got %v, want code_not_approved", client.ResultError(r))
	}
	if got := balance(e, rita.Address()); got != before {
		t.Fatalf("a refused job moved the requester's balance: %d, was %d", got, before)
	}

	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	modules := sandbox.Dir(t.TempDir())
	var logs bytes.Buffer
	run := func(m compute.Modules) {
		t.Helper()
		w := &compute.Worker{Key: wk, Org: "st-mary", Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store,
			Modules: m, Noise: rand.NewChaCha8([32]byte{42}), Log: slog.New(slog.NewTextHandler(&logs, nil))}
		out, err := w.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("outcomes: %+v", out)
	}
	status := func(id uint64) *ledger.Job {
		t.Helper()
		j, err := e.c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	// A worker that has not installed the module refuses before reading
	// data: data_unavailable, refunded.
	before = balance(e, rita.Address())
	missing, err := client.JobID(e.submit(rita, job("code:"+hash, custom)))
	if err != nil {
		t.Fatal(err)
	}
	run(modules)
	if j := status(missing); j.Status != ledger.JobFailed || j.Reason != "so-cvd: data_unavailable" {
		t.Fatalf("job without its module: %s %q", j.Status, j.Reason)
	}
	if got := balance(e, rita.Address()); got != before {
		t.Errorf("the refusal before reading data was charged: balance %d, was %d", got, before)
	}

	if _, err := modules.Install(wasm); err != nil {
		t.Fatal(err)
	}
	release := func(analysis, params string) json.RawMessage {
		t.Helper()
		id, err := client.JobID(e.submit(rita, job(analysis, params)))
		if err != nil {
			t.Fatal(err)
		}
		run(modules)
		j := status(id)
		if j.Status != ledger.JobCompleted {
			t.Fatalf("%s job: %s %q", analysis, j.Status, j.Reason)
		}
		res, _, err := compute.FetchResult(ctx, e.c, j, "so-cvd", rita)
		if err != nil {
			t.Fatal(err)
		}
		if res.Analysis != analysis {
			t.Fatalf("result of %s says %s", analysis, res.Analysis)
		}
		return res.Release
	}
	got := release("code:"+hash, custom)
	want := release("descriptive", `{"variables":[{"column":"sbp","bounds":{"lower":80,"upper":220}}]}`)
	if !bytes.Equal(got, want) {
		t.Fatalf("custom release %s\nbuilt-in release %s", got, want)
	}
	if !strings.Contains(string(got), `"noisy":true`) {
		t.Fatalf("release %s is not noisy", got)
	}

	// The job's recorded limits are the module's: 1 ms is not enough to
	// start it, and the job fails resource_exhausted (charged: the module
	// had the data).
	before = balance(e, rita.Address())
	short := strings.Replace(custom, `"timeout_ms":60000`, `"timeout_ms":1`, 1)
	id, err := client.JobID(e.submit(rita, job("code:"+hash, short)))
	if err != nil {
		t.Fatal(err)
	}
	run(modules)
	if j := status(id); j.Status != ledger.JobFailed || j.Reason != "so-cvd: resource_exhausted" {
		t.Fatalf("job over its time limit: %s %q", j.Status, j.Reason)
	}
	if got := balance(e, rita.Address()); got != before-100 {
		t.Errorf("a module stopped at its limit had the data: balance %d, want %d (charged)", got, before-100)
	}
	// Nothing the module read reached the worker's log.
	for _, p := range people {
		if v := strconv.FormatFloat(p.SBP, 'f', -1, 64); strings.Contains(v, ".") && strings.Contains(logs.String(), v) {
			t.Fatalf("the worker's log holds a row's sbp %s:\n%s", v, logs.String())
		}
	}
}
