package deal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deal"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

var refDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const measurement = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"

// recorder keeps the bytes of every transaction signed through it, so the
// test can search what reached the ledger.
type recorder struct {
	*client.Client
	mu  sync.Mutex
	txs [][]byte
}

func (r *recorder) SignAndSubmit(ctx context.Context, k *keys.Key, m ledger.Msg, wait bool) (*api.TxSubmitted, error) {
	b, _ := json.Marshal(m)
	r.mu.Lock()
	r.txs = append(r.txs, b)
	r.mu.Unlock()
	return r.Client.SignAndSubmit(ctx, k, m, wait)
}

func (r *recorder) submit(t *testing.T, ctx context.Context, k *keys.Key, m ledger.Msg) *ledger.TxRecord {
	t.Helper()
	res, err := r.SignAndSubmit(ctx, k, m, true)
	if err == nil {
		err = client.ResultError(res)
	}
	if err != nil {
		t.Fatalf("%s by %s: %v", m.Type(), k.Name, err)
	}
	return res.Result
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); fn(i) }()
	}
	wg.Wait()
}

// TestDealEndToEnd is the data deal on a real node, as a buyer, 55 linked
// patients and an institution's worker see it. 50 patients accept, 5
// withdraw before delivery, a wallet that is no patient there accepts too;
// the worker delivers the other 45 once and declines the stranger (a
// second run delivers nothing, a replayed delivery is refused), and the
// buyer decrypts 45 rows carrying exactly the asked fields, each the
// de-identified row of the patient who accepted. Every payment is exact:
// each delivered patient 30 of the record's 100, the institution 60, the
// worker 10, and the buyer gets back what was not spent when it closes the
// deal. No planted identifier of any of the 60 source records — names,
// MRNs, SSNs, addresses, phones, licences, passports, FHIR ids, notes —
// nor any patient's pseudonym is in any transaction, any ledger key or
// value, any file of the node's home, any deal API answer or any row.
func TestDealEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	c := &recorder{Client: client.New(n.URL)}
	key := func(name string) *keys.Key {
		k, err := n.Key(name)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	v, err := vault.Open(filepath.Join(n.Home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	pseudo, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		t.Fatal(err)
	}

	// The institution publishes 60 synthetic patients under Safe Harbor.
	const org, dataset = "st-mary", "deal-cvd"
	admin := key("st-mary-admin")
	worker, err := keys.Generate(org + "-dealer")
	if err != nil {
		t.Fatal(err)
	}
	people, err := synth.Generate(synth.Config{N: 60, Seed: 7, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	_, err = seed.Publish(ctx, c.Client, v, secret, seed.Site{Admin: admin, Worker: worker, Measurement: measurement,
		Org: org, Dataset: dataset, Title: dataset, People: people, RefDate: refDate,
		Policy: ledger.Policy{
			Purposes:           []string{"research", "commercial_research"},
			Requesters:         ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses:           ledger.Analyses{Builtins: []string{"cohort_count"}},
			MinCohort:          ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000, Price: 100,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn,
		}})
	if err != nil {
		t.Fatal(err)
	}

	// 55 patients get wallets, linked by the institution (and shared with
	// its worker); 50 of them accept the deal, 5 of those withdraw.
	const linked, accepting, withdrawing = 55, 50, 5
	nodeID, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := vault.NewRecipient(worker.EncPub())
	if err != nil {
		t.Fatal(err)
	}
	wallets := make([]*keys.Key, linked)
	var links []vault.Link
	for i := range wallets {
		if wallets[i], err = keys.Generate(fmt.Sprintf("patient-%d", i)); err != nil {
			t.Fatal(err)
		}
		links = append(links, vault.Link{Pseudonym: pseudo.PatientPseudonym(people[i].ID), Wallet: wallets[i].Address()})
	}
	if _, err := v.LinkPatients(org, links, nodeID, wr); err != nil {
		t.Fatal(err)
	}
	parallel(linked, func(i int) {
		k := wallets[i]
		c.submit(t, ctx, k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient})
	})

	// The buyer posts: four de-identified fields, 100 a record, for up to
	// 50 records.
	buyer := key("rita-researcher")
	fields := []string{"age", "sbp", "total_chol", "smoker"}
	// One place more than the patients who will accept: a wallet that is
	// no patient of the institution takes it, and the worker declines it.
	const price, budget = 100, (accepting + 1) * 100
	paidBefore := map[string]uint64{}
	balance := func(addr string) uint64 {
		a, err := c.Account(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}
	for _, a := range []string{buyer.Address(), admin.Address(), worker.Address()} {
		paidBefore[a] = balance(a)
	}
	rec := c.submit(t, ctx, buyer, &ledger.PostDeal{Purpose: "commercial_research", Datasets: []string{dataset}, Fields: fields,
		PricePerRecord: price, Budget: budget, MaxRecords: accepting + 1, ExpiryBlocks: 5000, BuyerKey: buyer.EncPub()})
	dealID := eventUint(t, rec, "post_deal", "deal")

	parallel(accepting, func(i int) {
		c.submit(t, ctx, wallets[i], &ledger.AcceptDeal{Deal: dealID, Dataset: dataset})
	})
	parallel(withdrawing, func(i int) {
		c.submit(t, ctx, wallets[i], &ledger.WithdrawAcceptance{Deal: dealID})
	})
	stranger, err := keys.Generate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	c.submit(t, ctx, stranger, &ledger.RegisterAccount{PubKey: stranger.PubKey(), EncKey: stranger.EncPub(), Kind: ledger.KindPatient})
	c.submit(t, ctx, stranger, &ledger.AcceptDeal{Deal: dealID, Dataset: dataset})

	// The worker delivers, writing ciphertexts to the node's results store
	// (which the API serves rows from).
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	dlv := &deal.Deliverer{Key: worker, Org: org, Vault: v, Ledger: c, Store: store, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	out, err := dlv.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Delivered != accepting-withdrawing || out[0].Declined != 1 || len(out[0].Skipped) != 0 {
		t.Fatalf("first run: %+v, want %d delivered and the stranger declined, of deal %d", out, accepting-withdrawing, dealID)
	}
	// Nothing is delivered twice: a second run finds nothing pending, and a
	// replayed delivery is refused by the ledger.
	if out, err := dlv.RunOnce(ctx); err != nil || len(out) != 0 {
		t.Fatalf("second run: %+v, %v", out, err)
	}
	acc, err := c.Acceptances(ctx, dealID, "")
	if err != nil {
		t.Fatal(err)
	}
	var replay *ledger.Acceptance
	for i := range acc {
		if acc[i].Status == ledger.AcceptanceDelivered {
			replay = &acc[i]
			break
		}
	}
	res, err := c.SignAndSubmit(ctx, worker, &ledger.DeliverDealRows{Deal: dealID, Rows: []ledger.DeliveredRow{{Patient: replay.Patient, RowHash: replay.Delivery.RowHash}}}, true)
	if err != nil || res.Result == nil || res.Result.Code != ledger.CodeAlreadyDelivered {
		t.Fatalf("replayed delivery: %+v, %v; want already_delivered", res, err)
	}

	// Who was delivered: exactly those who accepted and did not withdraw;
	// the stranger was declined.
	byWallet := map[string]ledger.Acceptance{}
	for _, a := range acc {
		byWallet[a.Patient] = a
	}
	if a := byWallet[stranger.Address()]; a.Status != ledger.AcceptanceDeclined {
		t.Errorf("the stranger's acceptance is %q, want declined", a.Status)
	}
	for i, k := range wallets {
		a, ok := byWallet[k.Address()]
		var want string
		switch {
		case i < withdrawing:
			want = ledger.AcceptanceWithdrawn
		case i < accepting:
			want = ledger.AcceptanceDelivered
		}
		if got := a.Status; ok != (want != "") || got != want {
			t.Errorf("patient %d: acceptance %q, want %q", i, got, want)
		}
	}

	// The buyer fetches every delivered row, checks it against the ledger
	// and decrypts it: only the asked fields, each the de-identified value
	// of the patient who accepted.
	rows, err := deal.Fetch(ctx, c.Client, dealID, buyer)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != accepting-withdrawing {
		t.Fatalf("buyer decrypted %d rows, want %d", len(rows), accepting-withdrawing)
	}
	var plain bytes.Buffer
	for _, r := range rows {
		if !slices.Equal(r.Row.Fields, fields) || len(r.Row.Values) != len(fields) {
			t.Fatalf("row of %s: fields %v", r.Patient, r.Row.Fields)
		}
		i := slices.IndexFunc(wallets, func(k *keys.Key) bool { return k.Address() == r.Patient })
		p := people[i]
		age, _ := r.Row.Values[0].(json.Number).Float64()
		sbp, _ := r.Row.Values[1].(json.Number).Float64()
		if int(age) != min(p.Age, 90) || sbp != p.SBP {
			t.Errorf("row of patient %d: age %v sbp %v, the record has %d and %v", i, age, sbp, p.Age, p.SBP)
		}
		b, _ := json.Marshal(r.Row)
		plain.Write(b)
	}
	// Nobody else's row was made or can be fetched: the results store holds
	// exactly the 45 delivered rows, and a withdrawn patient's or a linked
	// patient's who never accepted is not found.
	blobs := 0
	filepath.WalkDir(compute.ResultsDir(n.Home), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			blobs++
		}
		return nil
	})
	if blobs != accepting-withdrawing {
		t.Errorf("the results store holds %d blobs, want the %d delivered rows", blobs, accepting-withdrawing)
	}
	for _, k := range []*keys.Key{wallets[0], wallets[linked-1], stranger} {
		if _, err := c.DealRow(ctx, dealID, k.Address()); !client.IsNotFound(err) {
			t.Errorf("row of %s (withdrawn, never accepted, not a patient): %v, want not found", k.Name, err)
		}
	}
	// Another key opens none of them.
	if _, err := deal.Fetch(ctx, c.Client, dealID, worker); err == nil {
		t.Fatal("a key other than the buyer's opened the rows")
	}

	// Payments: by the policy's split, 60 / 10 / 30 of each record's 100.
	delivered := uint64(accepting - withdrawing)
	for i, k := range wallets {
		want := uint64(0)
		if i >= withdrawing && i < accepting {
			want = price * 30 / 100
		}
		if got := balance(k.Address()); got != want {
			t.Errorf("patient %d: balance %d, want %d", i, got, want)
		}
	}
	if got, want := balance(admin.Address())-paidBefore[admin.Address()], delivered*60; got != want {
		t.Errorf("institution earned %d, want %d", got, want)
	}
	if got, want := balance(worker.Address())-paidBefore[worker.Address()], delivered*10; got != want {
		t.Errorf("worker earned %d, want %d", got, want)
	}
	c.submit(t, ctx, buyer, &ledger.CloseDeal{Deal: dealID})
	d, err := c.Deal(ctx, dealID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Refunded != budget-delivered*price || d.Escrow != 0 || d.PaidPatients != delivered*30 || d.PaidInstitutions != delivered*60 || d.PaidWorkers != delivered*10 {
		t.Errorf("deal books: %+v", d)
	}
	if got, want := paidBefore[buyer.Address()]-balance(buyer.Address()), delivered*price; got != want {
		t.Errorf("buyer paid %d, want %d", got, want)
	}

	// Search every byte: planted identifiers and pseudonyms.
	f := newFinder(people, pseudo)
	var hits []string
	search := func(where string, b []byte) { hits = append(hits, f.find(where, b)...) }
	c.mu.Lock()
	for i, tx := range c.txs {
		search(fmt.Sprintf("transaction %d", i), tx)
	}
	c.mu.Unlock()
	if err := n.Iterate(nil, func(k, val []byte) bool {
		search("ledger key "+string(k), k)
		search("ledger value of "+string(k), val)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/deals", fmt.Sprintf("/v1/deals/%d", dealID), fmt.Sprintf("/v1/deals/%d/acceptances", dealID),
		fmt.Sprintf("/v1/patients/%s/deals", wallets[accepting-1].Address()), fmt.Sprintf("/v1/deals/%d/rows/%s", dealID, wallets[accepting-1].Address())} {
		search("GET "+path, httpGet(t, n.URL+path))
	}
	search("decrypted rows", plain.Bytes())
	search("worker log", logs.Bytes())
	scanFiles := func() []string {
		var out []string
		err := filepath.WalkDir(n.Home, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			if b, err := os.ReadFile(p); err == nil {
				out = append(out, f.find(p, b)...)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// The search finds what is there: a canary file holding one MRN.
	canary := filepath.Join(n.Home, "canary.txt")
	if err := os.WriteFile(canary, []byte("mrn "+people[0].MRN), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := scanFiles(); len(got) != 1 {
		t.Fatalf("the file search found %d hits with one canary planted: %v", len(got), got)
	}
	os.Remove(canary)
	hits = append(hits, scanFiles()...)
	if len(hits) > 0 {
		t.Fatalf("%d identifiers found, e.g. %v", len(hits), hits[:min(len(hits), 5)])
	}
}

func eventUint(t *testing.T, rec *ledger.TxRecord, typ, key string) uint64 {
	t.Helper()
	for _, e := range rec.Events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == key {
				var n uint64
				if _, err := fmt.Sscan(a.Value, &n); err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Fatalf("no %s.%s in %+v", typ, key, rec.Events)
	return 0
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.StatusCode, b)
	}
	return b
}

// finder looks for every person's direct identifiers and pseudonym.
type finder struct{ needles map[string]string }

func newFinder(people []synth.Person, pseudo *deid.Deidentifier) *finder {
	f := &finder{needles: map[string]string{}}
	for i, p := range people {
		for what, s := range map[string]string{"fhir id": p.ID, "MRN": p.MRN, "given name": p.Given, "family name": p.Family,
			"name": p.Name(), "maiden name": p.MothersMaidenName, "street": p.Street, "phone": p.Phone, "SSN": p.SSN,
			"licence": p.DriversLicence, "passport": p.Passport, "note": p.Note, "pseudonym": pseudo.PatientPseudonym(p.ID)} {
			if len(s) >= 5 { // shorter names are common words and random bytes
				f.needles[s] = fmt.Sprintf("%s of person %d", what, i)
			}
		}
	}
	return f
}

func (f *finder) find(where string, b []byte) []string {
	var out []string
	for s, what := range f.needles {
		if bytes.Contains(b, []byte(s)) {
			out = append(out, what+" in "+where)
		}
	}
	return out
}
