package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
)

// seedCatalogue publishes a dataset with a policy and gives patient-1 a
// consent to it, through the Go client.
func seedCatalogue(t *testing.T, ctx context.Context, n *apitest.Node) {
	t.Helper()
	c := client.New(n.URL)
	must := func(msg ledger.Msg, signer string) {
		k, err := n.Key(signer)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.SignAndSubmit(ctx, k, msg, true)
		if err != nil {
			t.Fatal(err)
		}
		if r.Result == nil || r.Result.Code != ledger.CodeOK {
			t.Fatalf("%T: %+v", msg, r.Result)
		}
	}
	must(&ledger.RegisterDataset{ID: "cvd-cohort", Version: 1, Title: "CVD risk cohort",
		Schema:     []ledger.Field{{Name: "sbp", Type: "number", System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}},
		RecordBand: "1k-10k", ContentRoot: strings.Repeat("ab", 32), Locator: "vault://cvd-cohort/1"}, "st-mary-admin")
	must(&ledger.SetPolicy{Dataset: "cvd-cohort", Policy: ledger.Policy{
		Purposes: []string{"research"}, Requesters: ledger.Requesters{Anyone: true},
		Analyses: ledger.Analyses{Builtins: []string{"logistic_regression"}}, MinCohort: 11,
		EpsilonPerJobMilli: 1000, EpsilonTotalMilli: 10000, Price: 250,
		Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
		Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn}}, "st-mary-admin")
	must(&ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeDataset, ID: "cvd-cohort"}, Provision: ledger.Permit,
		Purposes: []string{"research"}}, "patient-1")
}

// browserCtx starts headless Chromium under chromedp and records every
// request the page makes (URL and body), so a test can prove what never
// left the browser.
func browserCtx(t *testing.T, path string) (context.Context, func() []string) {
	t.Helper()
	return browserCtxFor(t, path, 2*time.Minute)
}

// browserCtxFor is browserCtx for a journey that takes longer than two
// minutes (one that waits for a pooled study).
func browserCtxFor(t *testing.T, path string, within time.Duration) (context.Context, func() []string) {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing to
	// the profile for a moment after the browser is closed, which would fail
	// the test in TempDir's cleanup. The profile is removed best-effort.
	profile, err := os.MkdirTemp("", "medchain-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile))
	// The browser is started here, and started again (up to three times)
	// when it exits before it is up: on a machine busy with other test
	// binaries Chromium now and then dies at start-up ("chrome failed to
	// start"), which says nothing about the app.
	var ctx context.Context
	var cancelA, cancelB, cancelC context.CancelFunc
	for try := 1; ; try++ {
		var actx context.Context
		actx, cancelA = chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelB = chromedp.NewContext(actx)
		ctx, cancelC = context.WithTimeout(ctx, within)
		err := chromedp.Run(ctx)
		if err == nil {
			break
		}
		cancelC()
		cancelB()
		cancelA()
		if try == 3 || !strings.Contains(err.Error(), "failed to start") {
			t.Fatalf("starting Chromium (try %d): %v", try, err)
		}
		t.Logf("Chromium did not start (try %d), starting it again: %.200s", try, err)
		time.Sleep(time.Second)
	}
	t.Cleanup(func() {
		cancelC()
		cancelB()
		cancelA()
		for range 10 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	var mu sync.Mutex
	var sent []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			var body strings.Builder
			for _, p := range e.Request.PostDataEntries {
				if b, err := base64.StdEncoding.DecodeString(p.Bytes); err == nil {
					body.Write(b)
				}
			}
			// Headers are searched too: a signed request's Authorization
			// header must carry a signature, never a key.
			var headers strings.Builder
			for k, v := range e.Request.Headers {
				fmt.Fprintf(&headers, "%s: %v\n", k, v)
			}
			mu.Lock()
			sent = append(sent, e.Request.Method+" "+e.Request.URL+"\n"+headers.String()+body.String())
			mu.Unlock()
		}
	})
	if err := chromedp.Run(ctx, network.Enable()); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), sent...)
	}
}

// waitText waits until the element's text contains want and returns it.
func waitText(ctx context.Context, sel, want string) (string, error) {
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := chromedp.Run(ctx, chromedp.Text(sel, &text, chromedp.ByQuery, chromedp.NodeReady)); err != nil {
			return "", err
		}
		if strings.Contains(text, want) {
			return text, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return text, fmt.Errorf("%s says %q, want %q", sel, text, want)
}

// run runs actions with a bound on how long they may wait.
func run(ctx context.Context, actions ...chromedp.Action) error {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(c, actions...)
}

// pageText adds what the page shows to an error, for a failing step.
func pageText(ctx context.Context, err error) error {
	var text string
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	chromedp.Run(c, chromedp.Evaluate(`document.body.innerText`, &text))
	return fmt.Errorf("%w; the page shows:\n%s", err, text)
}

func goTo(hash string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf("location.hash = %q", hash), nil)
}

// screenshots saves each page at desktop and phone width as test artefacts
// (MEDCHAIN_ARTEFACTS, or a temporary directory; never committed).
func screenshots(t *testing.T, ctx context.Context, prefix string, pages ...string) {
	dir := os.Getenv("MEDCHAIN_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "medchain-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		for _, p := range pages {
			var png []byte
			if err := chromedp.Run(ctx, chromedp.EmulateViewport(size.w, size.h), goTo("#"+p),
				chromedp.Sleep(700*time.Millisecond), chromedp.FullScreenshot(&png, 100)); err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.png", prefix, strings.ReplaceAll(p, "/", "-"), size.name))
			if err := os.WriteFile(f, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("screenshots in %s", dir)
}

// TestPatientAndAuditorJourneys drives the web app in headless Chromium
// against a real node: a patient imports her key file, revokes a consent and
// gives a new one — each signed in the browser and applied by the ledger —
// and, after a reload, unlocks her kept key (a wrong passphrase refused); an
// auditor verifies an audit entry's inclusion proof in the browser and sees a
// forged proof fail. Every request the page made is then searched: the
// private key (seed and X25519 key, raw, hex or base64) and the passphrase
// never reached the server.
func TestPatientAndAuditorJourneys(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx0, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seedCatalogue(t, ctx0, n)
	seeded := n.Height() // the log holds the catalogue's entries by now

	keyFile, err := os.ReadFile(filepath.Join(node.KeysDir(n.Home), "patient-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		Address string `json:"address"`
		Seed    []byte `json:"ed25519_seed"`
		X25519  []byte `json:"x25519_private"`
	}
	if err := json.Unmarshal(keyFile, &kf); err != nil {
		t.Fatal(err)
	}
	const pass = "correct horse battery 42"

	ctx, requests := browserCtx(t, browser)
	// Sign in by importing the key file.
	if err := chromedp.Run(ctx, chromedp.Navigate(n.URL+"/#signin"),
		chromedp.SetValue("#import-text", string(keyFile), chromedp.ByID),
		chromedp.SetValue("#import-pass", pass, chromedp.ByID),
		chromedp.Click("#import-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "Imported and signed in as patient-1"); err != nil {
		t.Fatal(err)
	}

	// Revoke the consent given through the Go client.
	if err := run(ctx, goTo("#patient"), chromedp.WaitVisible(`button[data-revoke="0"]`, chromedp.ByQuery),
		chromedp.Click(`button[data-revoke="0"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#patient-msg", "Consent 0 revoked at height"); err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL)
	patient, err := keys.Load(node.KeysDir(n.Home), "patient-1")
	if err != nil {
		t.Fatal(err)
	}
	consents, err := c.Consents(ctx0, kf.Address, patient)
	if err != nil {
		t.Fatal(err)
	}
	if len(consents) != 1 || consents[0].Revoked == 0 {
		t.Fatalf("after the browser's revoke_consent the ledger holds %+v, want consent 0 revoked", consents)
	}

	// Give a new consent from the form.
	if err := run(ctx, chromedp.WaitReady(`#consent-dataset option[value="cvd-cohort"]`, chromedp.ByQuery),
		chromedp.Click("#consent-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#patient-msg", "Recorded at height"); err != nil {
		t.Fatal(err)
	}
	if consents, err = c.Consents(ctx0, kf.Address, patient); err != nil {
		t.Fatal(err)
	}
	if len(consents) != 2 || consents[1].Revoked != 0 || consents[1].Scope.ID != "cvd-cohort" || consents[1].Purposes[0] != "research" {
		t.Fatalf("after the browser's give_consent the ledger holds %+v", consents)
	}

	// A reload signs out; the kept key unlocks only with its passphrase.
	unlock := fmt.Sprintf(`#kept-keys form:has(code) input.pass`)
	if err := run(ctx, chromedp.Reload(), goTo("#signin"), chromedp.WaitVisible(unlock, chromedp.ByQuery),
		chromedp.SetValue(unlock, "not the passphrase", chromedp.ByQuery),
		chromedp.Click(`#kept-keys form button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "wrong passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.SetValue(unlock, pass, chromedp.ByQuery),
		chromedp.Click(`#kept-keys form button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "Signed in as patient-1"); err != nil {
		t.Fatal(err)
	}

	// The auditor checks entry 0, then a forged proof of it.
	if err := run(ctx, goTo("#explorer"), chromedp.WaitVisible("#verify-index", chromedp.ByID),
		chromedp.SetValue("#verify-index", "0", chromedp.ByID), chromedp.Click("#verify-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if msg, err := waitText(ctx, "#verify-msg", "is in the log the validators committed to"); err != nil {
		var checks string
		chromedp.Run(ctx, chromedp.Text("#verify-out", &checks, chromedp.ByID))
		t.Fatalf("%v (%s)\n%s", err, msg, checks)
	}
	var genuine string
	if err := chromedp.Run(ctx, chromedp.Text("#verify-out", &genuine, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`✓ header \d+ is signed by more than two thirds of the trusted validators: block [0-9a-f]{16}… signed by 1/1 validators`).MatchString(genuine) {
		t.Fatalf("the genuine proof's header check reads\n%s", genuine)
	}
	if err := chromedp.Run(ctx, chromedp.Click("#verify-forged", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#verify-msg", "verification FAILED (forged proof"); err != nil {
		t.Fatal(err)
	}
	// The proof is genuine but the header's first validator signature has
	// a flipped bit: the browser's own ed25519 check refuses it.
	if err := chromedp.Run(ctx, chromedp.Click("#verify-forged-sig", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#verify-msg", "verification FAILED (forged signature"); err != nil {
		t.Fatal(err)
	}
	var checks string
	if err := chromedp.Run(ctx, chromedp.Text("#verify-out", &checks, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(checks, "does not verify over block") || !strings.Contains(checks, "✓ leaf and proof give the log's root") {
		t.Fatalf("a forged signature on a genuine proof: the checks read\n%s", checks)
	}
	// The log grew without rewriting: consistency from the seeded log to
	// the one after the browser's transactions, both commitments signed;
	// then a forged consistency proof.
	to := n.Height() - 1
	if err := run(ctx, chromedp.SetValue("#consistency-from", fmt.Sprint(seeded), chromedp.ByID), chromedp.SetValue("#consistency-to", fmt.Sprint(to), chromedp.ByID),
		chromedp.Click("#consistency-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if msg, err := waitText(ctx, "#consistency-msg", fmt.Sprintf("The log at height %d extends the log at height %d", to, seeded)); err != nil {
		var checks string
		chromedp.Run(ctx, chromedp.Text("#consistency-out", &checks, chromedp.ByID))
		t.Fatalf("%v (%s)\n%s", err, msg, checks)
	}
	if err := run(ctx, chromedp.Click("#consistency-forged", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#consistency-msg", "verification FAILED (forged proof"); err != nil {
		t.Fatal(err)
	}
	var anchor string
	if err := chromedp.Run(ctx, chromedp.Text("#trust-anchor", &anchor, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(anchor, "Trusted here: chain "+apitest.ChainID+", validator set ") {
		t.Fatalf("the pinned trust anchor reads %q", anchor)
	}
	// The pin is what is trusted: a browser that pinned another validator
	// set refuses this node's genuine headers, until the anchor is forgotten.
	if err := run(ctx, chromedp.Evaluate(`(() => {
		const k = "medchain/trust-anchor/" + location.origin, a = JSON.parse(localStorage.getItem(k));
		a.validators_hash = "00".repeat(32);
		localStorage.setItem(k, JSON.stringify(a));
		return true;
	})()`, nil), chromedp.Click("#verify-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#verify-msg", "Entry 0: verification FAILED."); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Text("#verify-out", &checks, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(checks, "not the trusted set 0000") || !strings.Contains(checks, "forget the trust anchor") {
		t.Fatalf("a header under another pinned set: the checks read\n%s", checks)
	}
	if err := run(ctx, chromedp.Click("#trust-forget", chromedp.ByID), chromedp.Click("#verify-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#verify-msg", "is in the log the validators committed to"); err != nil {
		t.Fatal(err)
	}

	screenshots(t, ctx, "journeys", "network", "signin", "patient", "explorer")

	// Nothing secret left the browser.
	secrets := map[string]string{"passphrase": pass}
	for name, b := range map[string][]byte{"ed25519 seed": kf.Seed, "x25519 key": kf.X25519} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		secrets[name+" (hex)"] = hex.EncodeToString(b)
		secrets[name+" (raw)"] = string(b)
	}
	reqs := requests()
	if len(reqs) < 10 {
		t.Fatalf("recorded only %d requests: the network watch is not working", len(reqs))
	}
	posts := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, "POST ") {
			posts++
		}
		for name, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("the %s was sent to the server: %.200s", name, r)
			}
		}
	}
	if posts < 2 {
		t.Fatalf("recorded %d POST requests, want the two signed transactions", posts)
	}
	// The patient page listed her consents on requests signed in the
	// browser (the node answers no other).
	signedLists := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET "+n.URL+"/v1/patients/"+kf.Address+"/consents\n") && strings.Contains(r, "Authorization: MedchainSig key=") {
			signedLists++
		}
	}
	if signedLists < 2 {
		t.Fatalf("recorded %d signed consent listings, want one per render of the patient page", signedLists)
	}
}

// TestDataManagerJourney: a hospital's data manager signs in with the
// institution admin's key, opens the console, edits his dataset's policy
// (price and minimum cohort) and publishes it, signed in the browser; the
// ledger then holds the new terms and kept the fields the form does not show.
// A policy the ledger refuses (a minimum cohort below 11) is reported with
// the ledger's reason and changes nothing.
func TestDataManagerJourney(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx0, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seedCatalogue(t, ctx0, n)
	keyFile, err := os.ReadFile(filepath.Join(node.KeysDir(n.Home), "st-mary-admin.json"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, _ := browserCtx(t, browser)
	if err := run(ctx, chromedp.Navigate(n.URL+"/#signin"),
		chromedp.SetValue("#import-text", string(keyFile), chromedp.ByID),
		chromedp.SetValue("#import-pass", "data manager passphrase", chromedp.ByID),
		chromedp.Click("#import-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "signed in as st-mary-admin"); err != nil {
		t.Fatal(err)
	}
	edit := `button[data-edit="cvd-cohort"]`
	if err := run(ctx, goTo("#console"), chromedp.WaitVisible(edit, chromedp.ByQuery), chromedp.Click(edit, chromedp.ByQuery),
		chromedp.WaitVisible(`#policy-form input[name="price"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}

	// Refused: the ledger's floor on the minimum cohort.
	if err := run(ctx, chromedp.SetValue(`#policy-form input[name="min_cohort"]`, "5", chromedp.ByQuery),
		chromedp.Click("#policy-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#console-msg", "Not published: "); err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL)
	p, err := c.Policy(ctx0, "cvd-cohort")
	if err != nil {
		t.Fatal(err)
	}
	if p.MinCohort != 11 || p.Price != 250 {
		t.Fatalf("a refused policy changed the ledger: %+v", p)
	}

	// Published: a new price and minimum cohort.
	if err := run(ctx, chromedp.SetValue(`#policy-form input[name="min_cohort"]`, "20", chromedp.ByQuery),
		chromedp.SetValue(`#policy-form input[name="price"]`, "300", chromedp.ByQuery),
		chromedp.Click("#policy-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#console-msg", "Policy of cvd-cohort published at height"); err != nil {
		t.Fatal(err)
	}
	if p, err = c.Policy(ctx0, "cvd-cohort"); err != nil {
		t.Fatal(err)
	}
	if p.Price != 300 || p.MinCohort != 20 || p.EpsilonTotalMilli != 10000 || p.Split.InstitutionBps != 6000 ||
		p.ConsentModel != ledger.ConsentOptIn || len(p.Analyses.Builtins) != 1 || !p.Requesters.Anyone {
		t.Fatalf("after the browser's set_policy the ledger holds %+v", p)
	}
	screenshots(t, ctx, "datamanager", "console")
}
