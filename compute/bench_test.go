package compute_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// memLedger is an in-memory Backend for the local job path: the dataset
// version's root, and one research permit per wallet (so every row is
// kept, but each row's consents are looked up and evaluated). AllConsents
// builds its list afresh on every call, as a client reading the ledger does.
type memLedger struct {
	root    string
	wallets []string
	calls   int
}

var errUnused = errors.New("not used by the local path")

func (m *memLedger) Status(context.Context) (*api.NodeStatus, error) { return nil, errUnused }
func (m *memLedger) Jobs(context.Context, client.JobFilter) ([]ledger.Job, error) {
	return nil, errUnused
}
func (m *memLedger) Job(context.Context, uint64) (*ledger.Job, error)       { return nil, errUnused }
func (m *memLedger) Worker(context.Context, string) (*ledger.Worker, error) { return nil, errUnused }
func (m *memLedger) SignAndSubmit(context.Context, *keys.Key, ledger.Msg, bool) (*api.TxSubmitted, error) {
	return nil, errUnused
}
func (m *memLedger) DatasetVersion(_ context.Context, id string, v uint64) (*ledger.DatasetVersion, error) {
	return &ledger.DatasetVersion{Dataset: id, Version: v, ContentRoot: m.root}, nil
}
func (m *memLedger) AllConsents(context.Context, *keys.Key) ([]ledger.Consent, error) {
	m.calls++
	out := make([]ledger.Consent, len(m.wallets))
	for i, w := range m.wallets {
		out[i] = ledger.Consent{Patient: w, Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Permit,
			Purposes: []string{"research"}, Created: 2}
	}
	return out, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// BenchmarkJobPath1M20 times the worker's local path for a logistic
// regression on a vault version of 1,000,000 rows × 20 float features and
// a boolean outcome (the data of analysis.BenchmarkLogistic1M20, written
// with the vault writer), every row's pseudonym linked to a wallet with a
// research permit (opt-out model: all rows pass, the mask is computed):
// open with the worker's key, read and decrypt the columns, consent mask,
// table, fit, release through outputctl, encrypt to the requester. Each
// iteration runs the stages one by one (the functions compute calls, timed
// separately) and then Worker.compute itself (worker-ms).
func BenchmarkJobPath1M20(b *testing.B) {
	const n, q, org, dataset = 1_000_000, 20, "st-mary", "bench-1m"
	v, err := vault.Open(filepath.Join(b.TempDir(), "vault"))
	if err != nil {
		b.Fatal(err)
	}
	wk, err := keys.Generate(org + "-worker")
	if err != nil {
		b.Fatal(err)
	}
	rita, err := keys.Generate("rita")
	if err != nil {
		b.Fatal(err)
	}
	wr, err := vault.NewRecipient(wk.EncPub())
	if err != nil {
		b.Fatal(err)
	}

	// Setup: write the version and the link table.
	setup := time.Now()
	var sch record.Schema
	features := make([]string, q)
	for j := range q {
		features[j] = fmt.Sprintf("x%02d", j+1)
		sch = append(sch, ledger.Field{Name: features[j], Type: "number"})
	}
	sch = append(sch, ledger.Field{Name: "y", Type: "boolean"})
	beta := make([]float64, q+1)
	beta[0] = -1.5
	for j := 1; j <= q; j++ {
		beta[j] = 0.3 * math.Sin(float64(j))
	}
	lk, err := v.Lock(dataset)
	if err != nil {
		b.Fatal(err)
	}
	w, err := lk.Create(vault.Meta{Version: 1, Schema: sch, Recipients: []vault.Recipient{wr}})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	links := &vault.Links{Org: org, Links: make([]vault.Link, n)}
	vals := make([]record.Value, q+1)
	for i := range n {
		eta := beta[0]
		for j := range q {
			x := rng.NormFloat64()
			vals[j] = record.Num(x)
			eta += beta[j+1] * x
		}
		vals[q] = record.Bool(rng.Float64() < 1/(1+math.Exp(-eta)))
		ps := sha256.Sum256(fmt.Appendf(nil, "p%d", i))
		ws := sha256.Sum256(fmt.Appendf(nil, "w%d", i))
		links.Links[i] = vault.Link{Pseudonym: hex.EncodeToString(ps[:16]), Wallet: hex.EncodeToString(ws[:20])}
		if err := w.Append(record.Row{Pseudonym: links.Links[i].Pseudonym, Values: vals}); err != nil {
			b.Fatal(err)
		}
	}
	sum, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	lk.Unlock()
	slices.SortFunc(links.Links, func(a, b vault.Link) int { return strings.Compare(a.Pseudonym, b.Pseudonym) })
	ak, err := keys.Generate(org + "-admin")
	if err != nil {
		b.Fatal(err)
	}
	nodeID, err := vault.NodeIdentity(ak.Enc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.LinkPatients(org, links.Links, nodeID, wr); err != nil {
		b.Fatal(err)
	}
	wid, err := vault.NewIdentity(wk.Enc)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if l, err := v.Links(org, wid); err != nil || len(l.Links) != n {
		b.Fatalf("links: %v", err)
	}
	linksMs := msSince(t0)
	b.Logf("setup %.1f s (%d chunks, %d MB sealed)", time.Since(setup).Seconds(), sum.Chunks, sum.Bytes>>20)

	wallets := make([]string, n)
	for i, l := range links.Links {
		wallets[i] = l.Wallet
	}
	slices.Sort(wallets) // the ledger's order
	links = nil
	b.Run("all-linked", func(b *testing.B) { jobPath(b, v, wk, rita, sum.ContentRoot, features, org, wallets, linksMs) })
	// The same rows with nobody linked (an organisation without a link
	// table): the mask still decrypts the pseudonyms and asks the consent
	// model for every row.
	b.Run("unlinked", func(b *testing.B) { jobPath(b, v, wk, rita, sum.ContentRoot, features, "northside", wallets, 0) })
}

func jobPath(b *testing.B, v *vault.Vault, wk, rita *keys.Key, root string, features []string, org string, wallets []string, linksMs float64) {
	const n, dataset = 1_000_000, "bench-1m"
	ctx := context.Background()
	params, _ := json.Marshal(analysis.RegressionParams{Outcome: "y", Features: features})
	site := ledger.JobSite{Dataset: dataset, Version: 1, ContentRoot: root, Org: org, EpsilonMilli: 500,
		MinCohort: ledger.MinCohortFloor, Model: ledger.ConsentOptOut, Attestation: ledger.AttestSoftware, ExactRegression: true}
	job := &ledger.Job{ID: 1, Purpose: "research", Analysis: "logistic_regression", Params: params, ResultKey: rita.EncPub(),
		Sites: []ledger.JobSite{site}, Status: ledger.JobAdmitted, Admitted: 10, AdmittedTime: time.Now().Unix(), Deadline: 1000}
	reg := &ledger.Worker{Address: wk.Address(), Org: org, Attestation: ledger.AttestTypeSoftware, Measurement: measurement}
	be := &memLedger{root: root, wallets: wallets}
	worker := &compute.Worker{Key: wk, Org: org, Measurement: measurement, Vault: v, Ledger: be}

	var st struct{ decrypt, mask, fit, release, encrypt, total, worker float64 }
	var iters int
	for b.Loop() {
		start := time.Now()
		// decrypt: open with the worker identity, read, authenticate,
		// decrypt and decode every numeric column into the table.
		t := time.Now()
		id, err := vault.NewIdentity(wk.Enc)
		if err != nil {
			b.Fatal(err)
		}
		ver, err := v.Open(dataset, 1, root, id)
		if err != nil {
			b.Fatal(err)
		}
		tbl, err := compute.LoadTable(ver)
		if err != nil {
			b.Fatal(err)
		}
		st.decrypt += msSince(t)
		// mask: link table, pseudonym column, consents, ConsentAllows; Where.
		t = time.Now()
		keep, err := worker.ConsentMask(ctx, ver, job, site)
		if err != nil {
			b.Fatal(err)
		}
		if tbl, err = tbl.Where(keep); err != nil {
			b.Fatal(err)
		}
		st.mask += msSince(t)
		// fit: analysis.Regress (IRLS, SEs, AUC, calibration, HL).
		t = time.Now()
		var p analysis.RegressionParams
		if err := json.Unmarshal(job.Params, &p); err != nil {
			b.Fatal(err)
		}
		p.Link = analysis.Logit
		res, err := analysis.Regress(tbl, p)
		if err != nil {
			b.Fatal(err)
		}
		st.fit += msSince(t)
		iters = res.Iterations
		// release: outputctl with the worker's policy.
		t = time.Now()
		rel := &outputctl.Releaser{
			Policy: outputctl.Policy{MinCohort: int64(site.MinCohort), EpsilonMilli: site.EpsilonMilli, ExactRegression: true},
			Budget: &outputctl.Budget{TotalMilli: site.EpsilonMilli},
			Noise:  outputctl.CryptoSource(),
		}
		out, err := rel.ReleaseRegression(res)
		if err != nil {
			b.Fatal(err)
		}
		if out.Regression.N != n {
			b.Fatalf("released n = %d, want %d", out.Regression.N, n)
		}
		st.release += msSince(t)
		// encrypt: the Result envelope, age to the requester's key.
		t = time.Now()
		body, err := json.Marshal(out)
		if err != nil {
			b.Fatal(err)
		}
		ct, err := compute.EncryptResult(&compute.Result{Format: compute.ResultFormat, Job: job.ID, Dataset: dataset, Version: 1,
			ContentRoot: site.ContentRoot, Analysis: job.Analysis, Purpose: job.Purpose, ConsentModel: site.Model,
			ConsentAsOf: job.Admitted, Worker: wk.Address(), Measurement: measurement, MinCohort: site.MinCohort,
			EpsilonMilli: site.EpsilonMilli, Release: body, ReleaseKind: "regression"}, job.ResultKey)
		if err != nil || len(ct) == 0 {
			b.Fatal(err)
		}
		st.encrypt += msSince(t)
		st.total += msSince(start)
		tbl, keep, res, out = nil, nil, analysis.Regression{}, outputctl.RegressionRelease{}

		// The worker's own compute(), end to end, for comparison.
		t = time.Now()
		if ct, err = worker.Compute(ctx, reg, job, site); err != nil || len(ct) == 0 {
			b.Fatal(err)
		}
		st.worker += msSince(t)
	}
	N := float64(b.N)
	b.ReportMetric(st.decrypt/N, "decrypt-ms")
	b.ReportMetric(st.mask/N, "mask-ms")
	b.ReportMetric(st.fit/N, "fit-ms")
	b.ReportMetric(st.release/N, "release-ms")
	b.ReportMetric(st.encrypt/N, "encrypt-ms")
	b.ReportMetric(st.total/N, "total-ms")
	b.ReportMetric(st.worker/N, "worker-ms")
	if linksMs > 0 {
		b.ReportMetric(linksMs, "links-load-ms")
	}
	b.ReportMetric(float64(iters), "iterations")
}

// BenchmarkJobOverhead: a tiny cohort_count job on a real in-process node
// with medchain up's block time (node.DefaultBlockTime), from submit to a
// completed job whose result the requester has fetched, decrypted and
// verified. The institution's worker is driven with RunOnce in a tight loop
// (not the node's 1 s RunNodeWorkers ticker).
func BenchmarkJobOverhead(b *testing.B) {
	const org, admin, dataset = "st-mary", "st-mary-admin", "so-tiny"
	blockTime := node.DefaultBlockTime
	dir := b.TempDir()
	home := filepath.Join(dir, "home")
	var addrs [3]string
	for i := range addrs {
		a, err := apitest.FreeAddr()
		if err != nil {
			b.Fatal(err)
		}
		addrs[i] = a
	}
	if err := node.CreateNetwork([]string{home}, node.NetOptions{ChainID: "medchain-bench", Validators: 1, Demo: true,
		BlockTime: blockTime, API: addrs[0], RPC: addrs[1], P2P: addrs[2]}); err != nil {
		b.Fatal(err)
	}
	nd, err := node.Start(home, node.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer nd.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := client.New("http://" + nd.APIAddr())
	for {
		if s, err := c.Status(ctx); err == nil && s.Height >= 1 {
			break
		}
		if ctx.Err() != nil {
			b.Fatal(ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	key := func(name string) *keys.Key {
		k, err := keys.Load(node.KeysDir(home), name)
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	submit := func(k *keys.Key, m ledger.Msg) *ledger.TxRecord {
		r, err := c.SignAndSubmit(ctx, k, m, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			b.Fatalf("%s by %s: %v", m.Type(), k.Name, err)
		}
		return r.Result
	}

	// Setup (as TestWorkerEndToEnd's site): worker, a 200-row cohort
	// ingested and wrapped to it, a policy.
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		b.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		b.Fatal(err)
	}
	ak := key(admin)
	wk, err := keys.Generate(org + "-worker")
	if err != nil {
		b.Fatal(err)
	}
	poss, err := c.Possession(ctx, wk, org)
	if err != nil {
		b.Fatal(err)
	}
	submit(ak, &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: org, Possession: poss})
	submit(ak, &ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement})
	people, err := synth.Generate(synth.Config{N: 200, Seed: 7, RefDate: refDate})
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(dir, dataset+".csv")
	if err := synth.WriteFile(src, func(w io.Writer) error { return synth.WriteCSV(w, people, synth.WithOutcome()) }); err != nil {
		b.Fatal(err)
	}
	var mb bytes.Buffer
	if err := synth.WriteCSVMapping(&mb, synth.WithOutcome()); err != nil {
		b.Fatal(err)
	}
	mapping, err := csvsrc.ParseMapping("mapping", &mb)
	if err != nil {
		b.Fatal(err)
	}
	nodeID, err := vault.NodeIdentity(ak.Enc)
	if err != nil {
		b.Fatal(err)
	}
	wr, err := vault.NewRecipient(wk.EncPub())
	if err != nil {
		b.Fatal(err)
	}
	cfg := normalize.DefaultConfig()
	cfg.RefDate = refDate
	if _, err := ingest.Run(ctx, v, nodeID, secret, ingest.ClientLedger{Client: c, Key: ak}, ingest.Options{
		Source: src, Format: ingest.CSV, Mapping: &mapping, Normalize: cfg, Dataset: dataset, Title: dataset,
		Recipients: []vault.Recipient{wr},
	}); err != nil {
		b.Fatal(err)
	}
	submit(ak, &ledger.SetPolicy{Dataset: dataset, Policy: ledger.Policy{
		Purposes:           []string{"research"},
		Requesters:         ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
		Analyses:           ledger.Analyses{Builtins: []string{"cohort_count"}},
		MinCohort:          ledger.MinCohortFloor,
		EpsilonPerJobMilli: 500, EpsilonTotalMilli: 50000, Price: 100,
		Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
		Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut,
	}})
	store, err := compute.OpenResultStore(compute.ResultsDir(home))
	if err != nil {
		b.Fatal(err)
	}
	worker := &compute.Worker{Key: wk, Org: org, Measurement: measurement, Vault: v, Ledger: c, Results: store}
	rita := key("rita-researcher")
	height := func() int64 {
		s, err := c.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return s.Height
	}

	var st struct{ submit, work, fetch, total, blocks float64 }
	var runs int
	for b.Loop() {
		h0 := height()
		start := time.Now()
		rec := submit(rita, &ledger.SubmitJob{Datasets: []string{dataset}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
			Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
		id, err := client.JobID(rec)
		if err != nil {
			b.Fatal(err)
		}
		st.submit += msSince(start)
		t := time.Now()
		var j *ledger.Job
		for {
			runs++
			if _, err := worker.RunOnce(ctx); err != nil {
				b.Fatal(err)
			}
			if j, err = c.Job(ctx, id); err != nil {
				b.Fatal(err)
			}
			if j.Status != ledger.JobAdmitted {
				break
			}
		}
		if j.Status != ledger.JobCompleted {
			b.Fatalf("job %d: %s (%s)", id, j.Status, j.Reason)
		}
		st.work += msSince(t)
		t = time.Now()
		r, _, err := compute.FetchResult(ctx, c, j, dataset, rita)
		if err != nil || r.ReleaseKind != "count" {
			b.Fatalf("fetch: %v", err)
		}
		if _, ok, err := compute.VerifyJob(ctx, c, j, rita); err != nil || !ok {
			b.Fatalf("verify: ok=%v %v", ok, err)
		}
		st.fetch += msSince(t)
		st.total += msSince(start)
		st.blocks += float64(height() - h0)
	}
	N := float64(b.N)
	b.ReportMetric(st.total/N, "total-ms")
	b.ReportMetric(st.total/N/float64(blockTime.Milliseconds()), "block-intervals")
	b.ReportMetric(st.blocks/N, "blocks")
	b.ReportMetric(st.submit/N, "submit-ms")
	b.ReportMetric(st.work/N, "worker-ms")
	b.ReportMetric(st.fetch/N, "fetch-verify-ms")
	b.ReportMetric(float64(runs)/N, "runonce-calls")
}
