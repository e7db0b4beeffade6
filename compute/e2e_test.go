package compute_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	medseed "github.com/medchain/medchain/seed"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

var refDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const measurement = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"

// recorder wraps the client to keep every message the worker submits.
type recorder struct {
	*client.Client
	mu   sync.Mutex
	msgs [][]byte
}

func (r *recorder) SignAndSubmit(ctx context.Context, k *keys.Key, m ledger.Msg, wait bool) (*api.TxSubmitted, error) {
	b, _ := json.Marshal(m)
	r.mu.Lock()
	r.msgs = append(r.msgs, b)
	r.mu.Unlock()
	return r.Client.SignAndSubmit(ctx, k, m, wait)
}

// Submit records transactions the worker signs itself (receipt parts).
func (r *recorder) Submit(ctx context.Context, tx []byte, wait bool) (*api.TxSubmitted, error) {
	r.mu.Lock()
	r.msgs = append(r.msgs, tx)
	r.mu.Unlock()
	return r.Client.Submit(ctx, tx, wait)
}

type env struct {
	t       *testing.T
	workers map[string]*keys.Key // by organisation, once its site is published
	ctx     context.Context
	n       *apitest.Node
	c       *client.Client
	v       *vault.Vault
	secret  []byte
	pseudo  *deid.Deidentifier
	price   uint64 // the sites' policy price; 0 = 100
	// minCohort is the next sites' policy minimum cohort; 0 = the floor.
	minCohort uint64
}

// newEnv opens the test node's vault with its secret and the Safe Harbor
// pseudonymiser the ingests use.
func newEnv(t *testing.T, ctx context.Context, n *apitest.Node) *env {
	t.Helper()
	e := &env{t: t, ctx: ctx, n: n, c: client.New(n.URL)}
	var err error
	if e.v, err = vault.Open(filepath.Join(n.Home, "vault")); err != nil {
		t.Fatal(err)
	}
	if e.secret, err = e.v.Secret(); err != nil {
		t.Fatal(err)
	}
	if e.pseudo, err = deid.New(deid.SafeHarbor(), e.secret); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) key(name string) *keys.Key {
	k, err := e.n.Key(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) submit(k *keys.Key, m ledger.Msg) *ledger.TxRecord {
	e.t.Helper()
	r, err := e.c.SignAndSubmit(e.ctx, k, m, true)
	if err != nil {
		e.t.Fatalf("%s by %s: %v", m.Type(), k.Name, err)
	}
	if err := client.ResultError(r); err != nil {
		e.t.Fatalf("%s by %s: %v", m.Type(), k.Name, err)
	}
	return r.Result
}

// site registers a worker for org, ingests a synthetic cohort wrapped to it
// and sets a policy.
func (e *env) site(org, admin, dataset string, n int, seed int64, model string) (*keys.Key, []synth.Person, int) {
	t := e.t
	ak := e.key(admin)
	wk, err := keys.Generate(org + "-worker")
	if err != nil {
		t.Fatal(err)
	}
	if e.workers == nil {
		e.workers = map[string]*keys.Key{}
	}
	e.workers[org] = wk
	people, err := synth.Generate(synth.Config{N: n, Seed: seed, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := medseed.Publish(e.ctx, e.c, e.v, e.secret, medseed.Site{Admin: ak, Worker: wk, Measurement: measurement,
		Org: org, Dataset: dataset, Title: dataset, People: people, RefDate: refDate,
		Policy: ledger.Policy{
			Purposes:           []string{"research", "public_health"},
			Requesters:         ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses:           ledger.Analyses{Builtins: []string{"cohort_count", "logistic_regression", "survival", "boosted_trees"}},
			MinCohort:          cmp.Or(e.minCohort, ledger.MinCohortFloor),
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 50000, Price: cmp.Or(e.price, 100),
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: model,
			ExactRegression: true, // the regression jobs here are exact
		}})
	if err != nil {
		t.Fatal(err)
	}
	return wk, people, int(rep.RowsKept)
}

// patient makes a self-registered patient wallet, links it to a person of
// org's dataset in the vault's link table, and gives it consents.
func (e *env) patient(org string, p synth.Person, consents ...ledger.Msg) *keys.Key {
	k, err := keys.Generate("p")
	if err != nil {
		e.t.Fatal(err)
	}
	e.submit(k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient})
	// The institution links with its node key and shares the table with
	// its worker.
	node, err := vault.NodeIdentity(e.key(org + "-admin").Enc)
	if err != nil {
		e.t.Fatal(err)
	}
	wr, err := vault.NewRecipient(e.workers[org].EncPub())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.v.LinkPatient(org, e.pseudo.PatientPseudonym(p.ID), k.Address(), node, wr); err != nil {
		e.t.Fatal(err)
	}
	for _, m := range consents {
		e.submit(k, m)
	}
	return k
}

func permit(kind, id string, purposes ...string) *ledger.GiveConsent {
	return &ledger.GiveConsent{Scope: ledger.Scope{Kind: kind, ID: id}, Provision: ledger.Permit, Purposes: purposes}
}

func deny(kind, id string, purposes ...string) *ledger.GiveConsent {
	return &ledger.GiveConsent{Scope: ledger.Scope{Kind: kind, ID: id}, Provision: ledger.Deny, Purposes: purposes}
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn(i) }()
	}
	wg.Wait()
}

func balance(e *env, addr string) uint64 {
	a, err := e.c.Account(e.ctx, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Balance
}

// TestWorkerEndToEnd runs the whole compute path on a real node: two
// institutions ingest synthetic cohorts wrapped to their workers, patients
// are linked and consent (or refuse, or revoke), a researcher submits
// counts and a logistic regression, the workers run once, and the
// researcher downloads, verifies and decrypts results whose n is exactly
// what the consents allow.
func TestWorkerEndToEnd(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)

	// Opt-out at st-mary, opt-in at northside.
	soWorker, soPeople, soRows := e.site("st-mary", "st-mary-admin", "so-cvd", 300, 11, ledger.ConsentOptOut)
	niWorker, niPeople, niRows := e.site("northside", "northside-admin", "ni-cvd", 120, 12, ledger.ConsentOptIn)
	if soRows != 300 || niRows != 120 {
		t.Fatalf("ingested %d and %d rows", soRows, niRows)
	}

	// Consents before admission.
	var late []func()
	// opt-out: a research deny excludes; a revoked deny, a deny of another
	// purpose, a permit, and a deny given after admission do not.
	e.patient("st-mary", soPeople[0], permit(ledger.ScopeAll, "", "research"))
	e.patient("st-mary", soPeople[1], deny(ledger.ScopeInstitution, "st-mary", "research"))
	e.patient("st-mary", soPeople[2], deny(ledger.ScopeDataset, "so-cvd", "research"), &ledger.RevokeConsent{Seq: 0})
	e.patient("st-mary", soPeople[3], deny(ledger.ScopeAll, "", "commercial_research"))
	so4 := e.patient("st-mary", soPeople[4])
	late = append(late, func() { e.submit(so4, deny(ledger.ScopeDataset, "so-cvd", "research")) })
	wantSO := soRows - 1

	// opt-in: 30 linked permits are in; unlinked rows, a revoked permit, a
	// permit of another purpose, a permit overruled by a deny, a permit of
	// another dataset and a permit given after admission are out.
	const permits = 30
	parallel(permits, func(i int) {
		scopes := []*ledger.GiveConsent{permit(ledger.ScopeAll, "", "research"), permit(ledger.ScopeInstitution, "northside", "research", "education"), permit(ledger.ScopeDataset, "ni-cvd", "research")}
		e.patient("northside", niPeople[i], scopes[i%3])
	})
	e.patient("northside", niPeople[30], permit(ledger.ScopeDataset, "ni-cvd", "research"), &ledger.RevokeConsent{Seq: 0})
	e.patient("northside", niPeople[31], permit(ledger.ScopeDataset, "ni-cvd", "public_health"))
	e.patient("northside", niPeople[32], permit(ledger.ScopeAll, "", "research"), deny(ledger.ScopeInstitution, "northside", "research"))
	e.patient("northside", niPeople[33], permit(ledger.ScopeDataset, "so-cvd", "research"))
	ni34 := e.patient("northside", niPeople[34])
	late = append(late, func() { e.submit(ni34, permit(ledger.ScopeAll, "", "research")) })
	wantNI := permits

	// Jobs.
	rita := e.key("rita-researcher")
	before := balance(e, rita.Address())
	submitJob := func(dataset, analysisName, params string) uint64 {
		rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{dataset}, Analysis: analysisName, Params: json.RawMessage(params),
			Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
		id, err := client.JobID(rec)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	jNICount := submitJob("ni-cvd", "cohort_count", `{}`)
	jSOCount := submitJob("so-cvd", "cohort_count", `{}`)
	jSOLogit := submitJob("so-cvd", "logistic_regression", `{"outcome":"cvd_10y","features":["age","sbp","total_chol","hdl","smoker"]}`)
	jSmall := submitJob("so-cvd", "cohort_count", `{"filter":[{"column":"age","op":">","value":200}]}`)
	for _, f := range late {
		f()
	}

	// Run each institution's worker once.
	var logs bytes.Buffer
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	const seed = 42
	rec := &recorder{Client: e.c}
	run := func(org string, k *keys.Key) []compute.Outcome {
		w := &compute.Worker{Key: k, Org: org, Measurement: measurement, Vault: e.v, Ledger: rec, Results: store,
			Noise: rand.NewChaCha8([32]byte{seed}), Log: slog.New(slog.NewTextHandler(&logs, nil))}
		out, err := w.RunOnce(ctx)
		if err != nil {
			t.Fatalf("%s worker: %v", org, err)
		}
		return out
	}
	niOut := run("northside", niWorker)
	soOut := run("st-mary", soWorker)
	t.Logf("northside: %+v\nst-mary: %+v", niOut, soOut)

	job := func(id uint64) *ledger.Job {
		j, err := e.c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	for _, id := range []uint64{jNICount, jSOCount, jSOLogit} {
		if j := job(id); j.Status != ledger.JobCompleted {
			t.Fatalf("job %d is %s (%s)", id, j.Status, j.Reason)
		}
	}
	if j := job(jSmall); j.Status != ledger.JobFailed || j.Reason != "so-cvd: cohort_too_small" {
		t.Fatalf("small job: %s %q", j.Status, j.Reason)
	}

	// Tokens: all four jobs paid — the refusal was made after reading
	// data, so it is charged like a release (refusals are no free oracle).
	if got := balance(e, rita.Address()); got != before-400 {
		t.Errorf("requester balance %d, want %d", got, before-400)
	}
	if got := balance(e, soWorker.Address()); got != 30 {
		t.Errorf("st-mary worker balance %d, want 30", got)
	}
	if b, err := e.c.DatasetBudget(ctx, "so-cvd"); err != nil || b.PatientPool != 90 || b.SpentMilli != 1500 {
		t.Errorf("so-cvd budget %+v %v: want pool 90, spent 1500 (the refused job's epsilon spent)", b, err)
	}

	// Expected noisy counts: the same seeded source, one draw per count.
	expectCount := func(n int) int64 {
		z, err := outputctl.DiscreteLaplace(rand.NewChaCha8([32]byte{seed}), 500, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return max(int64(n)+z, 0)
	}
	count := func(id uint64, dataset string) outputctl.CountRelease {
		r, _, err := compute.FetchResult(ctx, e.c, job(id), dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		var cr outputctl.CountRelease
		if err := json.Unmarshal(r.Release, &cr); err != nil {
			t.Fatal(err)
		}
		if r.ConsentAsOf != job(id).Admitted || r.ReleaseKind != "count" {
			t.Errorf("result envelope %+v", r)
		}
		return cr
	}
	if cr := count(jNICount, "ni-cvd"); cr.N.Count == nil || *cr.N.Count != expectCount(wantNI) || !cr.Noisy {
		t.Errorf("opt-in count %+v, want noisy %d (exact %d)", cr, expectCount(wantNI), wantNI)
	}
	if cr := count(jSOCount, "so-cvd"); cr.N.Count == nil || *cr.N.Count != expectCount(wantSO) {
		t.Errorf("opt-out count %+v, want noisy %d (exact %d)", cr, expectCount(wantSO), wantSO)
	}

	// The regression is released exactly: n is the consented rows.
	r, _, err := compute.FetchResult(ctx, e.c, job(jSOLogit), "so-cvd", rita)
	if err != nil {
		t.Fatal(err)
	}
	var rr outputctl.RegressionRelease
	if err := json.Unmarshal(r.Release, &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Regression.N != int64(wantSO) || len(rr.Regression.Coefficients) != 6 || rr.Regression.Link != analysis.Logit {
		t.Errorf("regression n=%d coefficients=%d link=%s, want n=%d", rr.Regression.N, len(rr.Regression.Coefficients), rr.Regression.Link, wantSO)
	}

	// Only the requester's key opens a result.
	if _, _, err := compute.FetchResult(ctx, e.c, job(jSOLogit), "so-cvd", e.key("st-mary-admin")); err == nil {
		t.Error("another key decrypted the result")
	}

	// verify checks hash, worker registration and measurement, content root.
	checks, ok, err := compute.VerifyJob(ctx, e.c, job(jSOLogit), rita)
	if err != nil || !ok || len(checks) != 4 {
		t.Fatalf("verify: ok=%v %v %+v", ok, err, checks)
	}

	// No identifier or pseudonym in what the worker posted, the store's
	// file names or the logs.
	var names []string
	filepath.WalkDir(compute.ResultsDir(n.Home), func(p string, d fs.DirEntry, err error) error {
		names = append(names, p)
		return nil
	})
	public := string(bytes.Join(rec.msgs, nil)) + strings.Join(names, "\n") + logs.String()
	for _, people := range [][]synth.Person{soPeople, niPeople} {
		for _, p := range people {
			for _, s := range []string{p.ID, p.MRN, p.SSN, p.Family, e.pseudo.PatientPseudonym(p.ID)} {
				if len(s) >= 4 && strings.Contains(public, s) {
					t.Fatalf("record-level value %q leaked into posted messages, result paths or logs", s)
				}
			}
		}
	}
	if len(rec.msgs) != 7 {
		t.Errorf("worker submitted %d messages, want 3 post_result, their 3 receipt sets (a part each) and 1 fail_job", len(rec.msgs))
	}

	// A tampered blob fails the requester's hash check.
	site := job(jSOCount).Sites[0]
	path := store.Path(site.Result.ResultHash)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := compute.FetchResult(ctx, e.c, job(jSOCount), "so-cvd", rita); err == nil || !strings.Contains(err.Error(), "refusing it") {
		t.Fatalf("tampered result: %v", err)
	}
	if _, ok, _ := compute.VerifyJob(ctx, e.c, job(jSOCount), nil); ok {
		t.Fatal("verify passed a tampered result")
	}

	// A second run finds nothing to do.
	if out := run("st-mary", soWorker); len(out) != 0 {
		t.Errorf("second run: %+v", out)
	}
	fmt.Fprint(io.Discard, niOut)
}

// study declares the pooled study of a multi-site logistic regression, as
// `medchain job submit` does.
func (e *env) study(m *ledger.SubmitJob) *ledger.SubmitJob {
	e.t.Helper()
	ds, err := e.c.Dataset(e.ctx, m.Datasets[0])
	if err != nil {
		e.t.Fatal(err)
	}
	if m.Study, err = compute.PlanJobStudy(m.Analysis, m.Params, ds.Latest.Schema, nil); err != nil {
		e.t.Fatal(err)
	}
	// Deadlines are in blocks, and blocks keep coming while the workers
	// prove their contributions: on a loaded machine (CI runs packages side
	// by side) a 30-block iteration can pass before a live site has posted.
	// Tests that want a deadline to pass set a short one themselves.
	m.Study.IterationBlocks = 600
	return m
}
