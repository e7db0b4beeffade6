package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/recordclient"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// portalSite is a real node with its compute workers on and one opt-in
// dataset at Northside whose worker is the node's, and which serves
// Northside's patients their records: what the patient portal journey runs
// on.
type portalSite struct {
	t      *testing.T
	ctx    context.Context
	n      *apitest.Node
	c      *client.Client
	v      *vault.Vault
	pseudo *deid.Deidentifier
	worker *keys.Key
	people []synth.Person
}

const portalDataset = "ns-portal"

func startPortalSite(t *testing.T, ctx context.Context) *portalSite {
	t.Helper()
	n, err := apitest.StartWith(node.Options{Workers: true, WorkerMeasurement: demoMeasurement,
		Records: &node.RecordOptions{Account: "northside-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	s := &portalSite{t: t, ctx: ctx, n: n, c: client.New(n.URL)}
	if s.v, err = vaultcfg.Open(filepath.Join(n.Home, "vault")); err != nil {
		t.Fatal(err)
	}
	secret, err := s.v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	if s.pseudo, err = deid.New(deid.SafeHarbor(), secret); err != nil {
		t.Fatal(err)
	}
	// The worker key is kept in the node's keystore as <org>-worker, so
	// the node's own workers run its jobs and keep its reward tally.
	if s.worker, err = keys.Generate("northside-worker"); err != nil {
		t.Fatal(err)
	}
	if err := s.worker.Save(node.KeysDir(n.Home)); err != nil {
		t.Fatal(err)
	}
	if s.people, err = synth.Generate(synth.Config{N: 80, Seed: 31, RefDate: seed.DemoRefDate}); err != nil {
		t.Fatal(err)
	}
	admin := s.key("northside-admin")
	if _, err := seed.Publish(ctx, s.c, s.v, secret, seed.Site{Admin: admin, Worker: s.worker, Measurement: demoMeasurement,
		Org: "northside", Dataset: portalDataset, Title: "Northside heart study", People: s.people, RefDate: seed.DemoRefDate,
		Policy: ledger.Policy{
			Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 50000, Price: 2000,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn,
		}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *portalSite) key(name string) *keys.Key {
	k, err := s.n.Key(name)
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

func (s *portalSite) submit(k *keys.Key, m ledger.Msg) *ledger.TxRecord {
	s.t.Helper()
	r, err := s.c.SignAndSubmit(s.ctx, k, m, true)
	if err == nil {
		err = client.ResultError(r)
	}
	if err != nil {
		s.t.Fatalf("%s by %s: %v", m.Type(), k.Name, err)
	}
	return r.Result
}

// enrol registers wallet k as a patient, links it to person p's row (the
// institution's link table, shared with its worker) and has it permit
// research (and any other purposes given) at Northside.
func (s *portalSite) enrol(k *keys.Key, p synth.Person, more ...string) {
	s.submit(k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient})
	nodeID, err := vault.NodeIdentity(s.key("northside-admin").Enc)
	if err != nil {
		s.t.Fatal(err)
	}
	wr, err := vault.NewRecipient(s.worker.EncPub())
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.v.LinkPatient("northside", s.pseudo.PatientPseudonym(p.ID), k.Address(), nodeID, wr); err != nil {
		s.t.Fatal(err)
	}
	s.submit(k, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "northside"}, Provision: ledger.Permit,
		Purposes: append([]string{"research"}, more...)})
}

// enrolMany enrols fresh wallets for people[from:to], in parallel.
func (s *portalSite) enrolMany(from, to int) {
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Go(func() {
			k, err := keys.Generate(fmt.Sprintf("p%d", i))
			if err != nil {
				s.t.Error(err)
				return
			}
			s.enrol(k, s.people[i])
		})
	}
	wg.Wait()
}

// countJob has rita count the dataset's cohort and waits until the node's
// worker has released it and published the complete receipt set.
func (s *portalSite) countJob() uint64 {
	s.t.Helper()
	rita := s.key("rita-researcher")
	rec := s.submit(rita, &ledger.SubmitJob{Datasets: []string{portalDataset}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
		Purpose: "research", MaxPrice: 5000, ResultKey: rita.EncPub()})
	id, err := client.JobID(rec)
	if err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		j, err := s.c.Job(s.ctx, id)
		if err != nil {
			s.t.Fatal(err)
		}
		if j.Status == ledger.JobFailed {
			s.t.Fatalf("job %d failed: %s", id, j.Reason)
		}
		if j.Status == ledger.JobCompleted {
			if set := s.receiptSet(id); set != nil {
				return id
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("job %d was not released with its receipts in 90 s", id)
	return 0
}

// receiptSet is the complete receipt set of job id's site, or nil.
func (s *portalSite) receiptSet(id uint64) *struct {
	enc  []byte
	tags []byte
} {
	page, err := s.c.Receipts(s.ctx, id, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range page.Receipts {
		if r.Job == id && r.Dataset == portalDataset && len(r.Tags) > 0 {
			return &struct {
				enc  []byte
				tags []byte
			}{r.WorkerEncKey, r.Tags}
		}
	}
	return nil
}

// TestPatientPortalJourney drives the patient portal in headless Chromium
// against a real node whose own compute worker runs the jobs. Alice keeps
// one patient secret (encrypted under a passphrase, as `medchain patient
// keys init` writes it); her wallet at Northside is linked to her row and
// permits research and public health. A count job uses her records. In the
// browser she opens her secret — the page derives the same Northside wallet
// as the Go code — narrows her consent to research, and revokes it. Fifteen more patients join, and the same
// count runs again: released, with its receipts, and without her. On her
// "uses of my data" page, which scans every receipt set in the browser,
// the first job is listed and the second is not — and the Go receipts
// package agrees on both. Each patient page is photographed at desktop and
// phone width. No request the page made carried her secret, her wallet's
// keys or her passphrase.
func TestPatientPortalJourney(t *testing.T) {
	chrome := chromium(t)
	if testing.Short() {
		t.Skip("runs two jobs through a real worker")
	}
	ctx0, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := startPortalSite(t, ctx0)

	// Alice's secret, kept as the CLI keeps it outside a dev network.
	secret := fixedBytes("alice's patient secret", keys.PatientSecretSize)
	const pass = "alice's long passphrase 7"
	secretDir := t.TempDir()
	if err := keys.SavePatientSecret(secretDir, "alice", secret, func(bool) ([]byte, error) { return []byte(pass), nil }); err != nil {
		t.Fatal(err)
	}
	secretFile, err := os.ReadFile(filepath.Join(keys.PatientSecretsDir(secretDir), "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(secretFile), "age_scrypt") {
		t.Fatalf("the secret file is not encrypted: %s", secretFile)
	}
	alice, err := keys.PatientWallet(secret, "northside", "alice.northside")
	if err != nil {
		t.Fatal(err)
	}
	const aliceRow = 40
	s.enrol(alice, s.people[aliceRow], "public_health")
	s.enrolMany(0, 30)
	used := s.countJob()

	ctx, requests := browserCtxFor(t, chrome, 5*time.Minute)
	if err := run(ctx, chromedp.Navigate(s.n.URL+"/#patient"), chromedp.WaitReady("#patient:not([inert])", chromedp.ByQuery),
		chromedp.WaitVisible("#patient-secret-box summary", chromedp.ByQuery),
		chromedp.Click("#patient-secret-box summary", chromedp.ByQuery),
		chromedp.SetValue("#patient-secret-text", string(secretFile), chromedp.ByID),
		chromedp.SetValue("#patient-secret-pass", pass, chromedp.ByID),
		chromedp.Click("#patient-secret-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	// scrypt at the keystore's work factor takes seconds, more on a loaded
	// machine.
	if err := waitFor(ctx, 2*time.Minute, `document.getElementById("patient-msg").textContent.includes('Your secret "alice" is open')`); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	// The browser derived the wallet the Go code did.
	if _, err := waitText(ctx, "#patient-who", alice.Address()[:8]); err != nil {
		t.Fatal(err)
	}

	// She narrows her consent to research only, then revokes it, each
	// signed with that wallet.
	if err := run(ctx, chromedp.WaitVisible(`#my-consents details summary`, chromedp.ByQuery),
		chromedp.Click(`#my-consents details summary`, chromedp.ByQuery),
		chromedp.Click(`#my-consents details input[value="public_health"]`, chromedp.ByQuery),
		chromedp.Click(`#my-consents details form button`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#patient-msg", "Consent 0 narrowed at height"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if consents, err := s.c.Consents(ctx0, alice.Address(), alice); err != nil || len(consents) != 1 ||
		strings.Join(consents[0].Purposes, ",") != "research" || consents[0].Revoked != 0 {
		t.Fatalf("after the browser's narrow_consent the ledger holds %+v (%v), want consent 0 for research only", consents, err)
	}
	// The page redraws her consents after the narrowing; the click waits
	// for the redrawn table (one purpose left: no "Narrow" form), or it can
	// land on a button being replaced (seen once in a CI run).
	revoke := fmt.Sprintf(`button[data-revoke="0"][data-wallet="%s"]`, alice.Address())
	if err := run(ctx, chromedp.WaitNotPresent(`#my-consents details`, chromedp.ByQuery),
		chromedp.WaitVisible(revoke, chromedp.ByQuery), chromedp.Click(revoke, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#patient-msg", "Consent 0 revoked at height"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	consents, err := s.c.Consents(ctx0, alice.Address(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(consents) != 1 || consents[0].Revoked == 0 {
		t.Fatalf("after the browser's revoke the ledger holds %+v, want alice's consent revoked", consents)
	}

	// Fifteen more patients join (so the next cohort differs from the first
	// by more than the minimum: the overlap control releases it), and the
	// same count runs again.
	s.enrolMany(50, 65)
	excluded := s.countJob()

	// Her uses page, which scans when it is opened: the first job, not the
	// second.
	if err := run(ctx, goTo("#patient/uses"), chromedp.WaitVisible("#uses-scan", chromedp.ByID)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if err := waitFor(ctx, time.Minute, `document.getElementById("uses-msg").textContent.startsWith("Checked ")`); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if msg, _ := waitText(ctx, "#uses-msg", "Checked 2 receipt sets of released results: 1 used your records"); !strings.Contains(msg, "Checked 2 receipt sets of released results: 1 used your records") {
		t.Fatalf("the uses page says %q, want both jobs' sets scanned and one of them hers", msg)
	}
	var listed []string
	if err := run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#my-uses td[data-job]")].map((td) => td.dataset.job)`, &listed)); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != fmt.Sprint(used) {
		t.Fatalf("her uses page lists jobs %v, want only job %d (job %d ran after she revoked)", listed, used, excluded)
	}
	var row string
	if err := run(ctx, chromedp.Evaluate(`document.querySelector("#my-uses tr").textContent`, &row)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"medical research", "a count of patients", "Northside heart study"} {
		if !strings.Contains(row, want) {
			t.Errorf("the use of job %d reads %q, want it to say %q", used, row, want)
		}
	}
	// The Go receipts package agrees: her tag is in the first set only.
	for id, want := range map[uint64]bool{used: true, excluded: false} {
		set := s.receiptSet(id)
		k, err := receipts.PatientKey(alice.Enc, set.enc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.c.Status(ctx0)
		if err != nil {
			t.Fatal(err)
		}
		if got := receipts.Contains(set.tags, receipts.TagFor(k, st.ChainID, id, portalDataset)); got != want {
			t.Errorf("job %d: her tag in the set is %v in Go, want %v", id, got, want)
		}
	}

	// Rewards: her hospital's tally pays her share of the first job; she
	// collects all of it, one power-of-two note per voucher, each claimed
	// with a transaction signed here.
	card := `#my-rewards article[data-org="northside"] p`
	if err := run(ctx, goTo("#patient/rewards"), chromedp.WaitVisible(card, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	balanceText, err := waitText(ctx, card, "You can collect ")
	if err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var owed int
	if _, err := fmt.Sscanf(balanceText, "You can collect %d", &owed); err != nil || owed < 10 {
		t.Fatalf("her rewards read %q: want a balance of at least 10 (one job of price 2000, 30%% to some 31 patients)", balanceText)
	}
	// One note at a time is the page's default (notes sent together add
	// up to the exact balance on the ledger); she chooses everything.
	if err := run(ctx, chromedp.SetValue(`#my-rewards article[data-org="northside"] select`, "0", chromedp.ByQuery),
		chromedp.Click(`#my-rewards article[data-org="northside"] .row button:last-child`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#rewards-msg", "Collected "); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	acct, err := s.c.Account(ctx0, alice.Address())
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(owed); acct.Balance != want {
		t.Fatalf("after collecting, her wallet holds %d tokens, want all of her balance, %d", acct.Balance, want)
	}

	// Her record: asked for with a request signed here, decrypted here,
	// then shared with a clinician's account and revoked before it is
	// opened.
	rita := s.key("rita-researcher")
	if err := run(ctx, goTo("#patient/record"), chromedp.WaitVisible("#record-get", chromedp.ByID), chromedp.Click("#record-get", chromedp.ByID)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#record-msg", "decrypted in this browser"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#record-summary", "1 original record"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if err := run(ctx, chromedp.SetValue("#share-to", rita.Address(), chromedp.ByID), chromedp.Click("#share-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#record-msg", "Shared with"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	shares, err := s.c.Shares(ctx0, alice.Address())
	if err != nil {
		t.Fatal(err)
	}
	if len(shares.Shares) != 1 || shares.Shares[0].Recipient != rita.Address() || shares.Shares[0].State != ledger.ShareActive {
		t.Fatalf("after the browser's share the ledger holds %+v", shares.Shares)
	}
	hash := shares.Shares[0].Hash
	revokeShare := fmt.Sprintf(`button[data-revoke-share="%s"]`, hash)
	if err := run(ctx, chromedp.WaitVisible(revokeShare, chromedp.ByQuery), chromedp.Click(revokeShare, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#record-msg", "revoked at height"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if sv, err := s.c.Share(ctx0, hash); err != nil || sv.Status != ledger.ShareRevoked {
		t.Fatalf("share %s after the browser's revoke: %+v %v", hash, sv, err)
	}

	// A link share with a passcode: the clinician opens it with the link
	// and the passcode (a wrong passcode is refused), and gets her record.
	const passcode = "heron-blue-7"
	if err := run(ctx, pick("#share-how", "link"), chromedp.WaitVisible("#share-passcode", chromedp.ByID),
		chromedp.SetValue("#share-passcode", passcode, chromedp.ByID), chromedp.Click("#share-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#record-msg", "Link share"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var link string
	if err := run(ctx, chromedp.Value("#share-link", &link, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	parsed, err := recordshare.ParseLink(link)
	if err != nil {
		t.Fatalf("the page's link %q: %v", link, err)
	}
	if _, err := recordclient.OpenLink(ctx0, link, "heron-blue-8"); err == nil {
		t.Fatal("the link share opened with a wrong passcode")
	}
	opened, err := recordclient.OpenLink(ctx0, link, passcode)
	if err != nil {
		t.Fatalf("the clinician opening the browser's link share: %v", err)
	}
	if len(opened.Copy.Originals) != 1 || opened.Copy.Originals[0].Dataset != portalDataset ||
		!strings.Contains(string(opened.Copy.Originals[0].Data), s.people[aliceRow].ID) {
		t.Fatalf("the clinician opened %+v, want alice's one original record", opened.Copy)
	}
	if sv, err := s.c.Share(ctx0, parsed.Share); err != nil || sv.Status != ledger.ShareOpened {
		t.Fatalf("the link share after opening: %+v %v, want opened on the ledger", sv, err)
	}

	// Data deals: rita offers to buy a field; alice accepts in the browser.
	deal := s.submit(rita, &ledger.PostDeal{Purpose: "research", Datasets: []string{portalDataset}, Fields: []string{"sbp"},
		PricePerRecord: 50, Budget: 500, MaxRecords: 10, ExpiryBlocks: 10000, BuyerKey: rita.EncPub()})
	dealID := ""
	for _, e := range deal.Events {
		for _, a := range e.Attrs {
			if e.Type == "post_deal" && a.Key == "deal" {
				dealID = a.Value
			}
		}
	}
	accept := fmt.Sprintf(`button[data-accept="%s"]`, dealID)
	if err := run(ctx, goTo("#patient/deals"), chromedp.WaitVisible(accept, chromedp.ByQuery), chromedp.Click(accept, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, fmt.Errorf("deal %q (events %+v): %w", dealID, deal.Events, err)))
	}
	if _, err := waitText(ctx, "#deals-msg", "You accepted deal "+dealID); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	acc, err := s.c.PatientDeals(ctx0, alice.Address())
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 1 || fmt.Sprint(acc[0].Deal) != dealID || acc[0].Dataset != portalDataset {
		t.Fatalf("after the browser's accept_deal the ledger holds %+v", acc)
	}

	screenshots(t, ctx, "patient", "patient/consents", "patient/uses", "patient/rewards", "patient/record", "patient/deals")

	// Nothing secret left the browser.
	secrets := map[string]string{"passphrase": pass, "link passcode": passcode, "link's one-time key": parsed.Key}
	// Her record is identifiable (it is hers): none of it went back out.
	p := s.people[aliceRow]
	for name, id := range map[string]string{"FHIR id": p.ID, "MRN": p.MRN, "family name": p.Family, "street": p.Street} {
		secrets["her record's "+name] = id
	}
	for name, b := range map[string][]byte{"patient secret": secret, "wallet ed25519 seed": alice.Sign.Seed(), "wallet x25519 key": alice.Enc.Bytes()} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		secrets[name+" (base64url)"] = base64.RawURLEncoding.EncodeToString(b)
		secrets[name+" (hex)"] = hex.EncodeToString(b)
		secrets[name+" (raw)"] = string(b)
	}
	reqs := requests()
	if len(reqs) < 10 {
		t.Fatalf("recorded only %d requests: the network watch is not working", len(reqs))
	}
	sawSignedRevoke := false
	for _, r := range reqs {
		for name, sec := range secrets {
			if strings.Contains(r, sec) {
				t.Errorf("the %s was sent to the server: %.200s", name, r)
			}
		}
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, `"type":"revoke_consent"`) {
			sawSignedRevoke = true
		}
	}
	if !sawSignedRevoke {
		t.Error("no signed revoke_consent among the requests: the watch missed what the page sent")
	}
}
