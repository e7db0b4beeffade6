package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/reqsig"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// startInstitutionDemo is startDemo on St Mary's own node: the node holds
// St Mary's vault key (a records account), so it answers St Mary's
// console's signed requests for ingest reports and quarantine.
func startInstitutionDemo(t *testing.T, ctx context.Context) (*apitest.Node, *vault.Vault) {
	t.Helper()
	n, err := apitest.StartWith(node.Options{Workers: true, WorkerMeasurement: demoMeasurement,
		Records: &node.RecordOptions{Account: "st-mary-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	v, err := vaultcfg.Open(filepath.Join(n.Home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Demo(ctx, client.New(n.URL), v, node.KeysDir(n.Home), demoMeasurement, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return n, v
}

// ingestWithBadRow publishes version 2 of St Mary's dataset from a
// synthetic CSV one of whose rows has a systolic pressure that is not a
// number, with bad rows quarantined. The bad cell holds planted, a string
// that must never reach the console.
func ingestWithBadRow(t *testing.T, ctx context.Context, n *apitest.Node, v *vault.Vault, planted string) (*ingest.Report, []synth.Person) {
	t.Helper()
	people, err := synth.Generate(synth.Config{N: 60, Seed: 7, RefDate: seed.DemoRefDate})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteCSV(&buf, people, synth.WithOutcome()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.IndexFunc(rows[0], func(h string) bool {
		return strings.Contains(strings.ToLower(h), "sbp") || strings.Contains(strings.ToLower(h), "systolic")
	})
	if col < 0 {
		t.Fatalf("no systolic pressure column in %v", rows[0])
	}
	rows[3][col] = planted
	dir := t.TempDir()
	src := filepath.Join(dir, "st-mary-v2.csv")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	f.Close()
	var mb bytes.Buffer
	if err := synth.WriteCSVMapping(&mb, synth.WithOutcome()); err != nil {
		t.Fatal(err)
	}
	mapping, err := csvsrc.ParseMapping("synth mapping", &mb)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := n.Key("st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	nodeID, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	cfg := normalize.DefaultConfig()
	cfg.RefDate = seed.DemoRefDate
	rep, err := ingest.Run(ctx, v, nodeID, secret, ingest.ClientLedger{Client: client.New(n.URL), Key: admin}, ingest.Options{
		Source: src, Format: ingest.CSV, Mapping: &mapping, Normalize: cfg, BadRows: ingest.Quarantine,
		Dataset: "st-mary-cvd", Title: "St Mary's cardiovascular cohort, 2025 refresh"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsQuarantined != 1 {
		t.Fatalf("quarantined %d rows, want 1", rep.RowsQuarantined)
	}
	return rep, people
}

// submitAndWait has a researcher submit a job through the Go client and
// waits until the St Mary's worker has closed it.
func submitAndWait(t *testing.T, ctx context.Context, n *apitest.Node, params string) *ledger.Job {
	t.Helper()
	c := client.New(n.URL)
	rita, err := n.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.SignAndSubmit(ctx, rita, &ledger.SubmitJob{Datasets: []string{"st-mary-cvd"}, Analysis: "cohort_count",
		Params: json.RawMessage(params), Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()}, true)
	if err != nil || r.Result == nil || r.Result.Code != ledger.CodeOK {
		t.Fatalf("submit job: %+v %v", r, err)
	}
	var id uint64
	found := false
	for _, e := range r.Result.Events {
		for _, a := range e.Attrs {
			if e.Type == "submit_job" && a.Key == "job" {
				_, err := fmt.Sscan(a.Value, &id)
				found = err == nil
			}
		}
	}
	if !found {
		t.Fatalf("no job id in %+v", r.Result.Events)
	}
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d still %s", id, j.Status)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestConsoleJourney: on St Mary's own node, with the demo seeded, a second
// version ingested with one bad row quarantined, and two jobs run on its
// data by its worker — one settled, one refused for a column the dataset
// lacks — St Mary's data manager opens the app. The overview follows new
// blocks pushed by the node's event stream, without a reload. He signs in
// with the institution admin's key and the console shows his datasets and
// versions (record bands, schemas), the ingest report (counts, rules) and
// the quarantine (row, field, reason — never the planted value), the
// privacy budget used, the jobs on his data with the refusal's safe reason,
// and the fee earned. The ingest report and quarantine were read on
// requests signed in the browser; no request carried his private keys or
// passphrase.
func TestConsoleJourney(t *testing.T) {
	browser := chromium(t)
	ctx0, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	n, v := startInstitutionDemo(t, ctx0)
	const planted = "Jane-Roe-SBP-123-45-6789"
	rep, people := ingestWithBadRow(t, ctx0, n, v, planted)
	good := submitAndWait(t, ctx0, n, `{"filter":[{"column":"age","op":">=","value":40}]}`)
	refused := submitAndWait(t, ctx0, n, `{"filter":[{"column":"favourite_colour","op":"=","value":1}]}`)
	if good.Status != ledger.JobCompleted {
		t.Fatalf("the good job: %+v", good)
	}
	if refused.Status != ledger.JobFailed || refused.Sites[0].Refusal == nil || refused.Sites[0].Refusal.Code != "no_such_column" {
		t.Fatalf("the refused job: %+v", refused)
	}
	// A registered bedside device, suspended.
	admin0, err := n.Key("st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	devPub, _, _ := ed25519.GenerateKey(nil)
	for _, m := range []ledger.Msg{
		&ledger.RegisterDevice{ID: "ward3-cuff", PubKey: devPub, Kind: "bp_cuff", Measurements: []ledger.Measurement{{System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}}},
		&ledger.SetDeviceStatus{ID: "ward3-cuff", Status: ledger.DeviceSuspended},
	} {
		if r, err := client.New(n.URL).SignAndSubmit(ctx0, admin0, m, true); err != nil || r.Result == nil || r.Result.Code != ledger.CodeOK {
			t.Fatalf("%T: %+v %v", m, r, err)
		}
	}
	s := good.Sites[0]
	fee := s.Price * uint64(s.Split.InstitutionBps) / 10000

	ctx, requests := browserCtx(t, browser)
	var mu sync.Mutex
	streamed := map[string]int64{} // URL → status of event-stream answers
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && strings.Contains(e.Response.URL, "/v1/events") {
			mu.Lock()
			streamed[e.Response.MimeType] = e.Response.Status
			mu.Unlock()
		}
	})

	// The overview follows the chain without a reload: the height shown
	// advances while a marker set on the page survives.
	heightShown := `(() => { const d = [...document.querySelectorAll("#status dt")].find((x) => x.textContent === "height"); return d ? Number(d.nextElementSibling.textContent) : 0 })()`
	var h0 int64
	if err := run(ctx, chromedp.Navigate(n.URL+"/#network"), chromedp.WaitVisible("#status dd", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 30*time.Second, heightShown+" > 0"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.__sameDocument = true`, nil), chromedp.Evaluate(heightShown, &h0)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 30*time.Second, fmt.Sprintf("%s >= %d && window.__sameDocument === true", heightShown, h0+3)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	mu.Lock()
	if streamed["text/event-stream"] != 200 {
		t.Fatalf("the page's event stream: %v, want a 200 text/event-stream answer", streamed)
	}
	mu.Unlock()

	// Sign in with the institution admin's key file.
	keyFile, err := os.ReadFile(filepath.Join(node.KeysDir(n.Home), "st-mary-admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	const pass = "st mary data manager passphrase"
	if err := run(ctx, goTo("#signin"), chromedp.WaitVisible("#import-text", chromedp.ByID),
		chromedp.SetValue("#import-text", string(keyFile), chromedp.ByID),
		chromedp.SetValue("#import-pass", pass, chromedp.ByID),
		chromedp.Click("#import-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "signed in as st-mary-admin"); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, goTo("#console"), chromedp.WaitVisible(`button[data-edit="st-mary-cvd"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	// Datasets: the band and the budget used (two jobs' ε spent).
	budget, err := client.New(n.URL).Dataset(ctx0, "st-mary-cvd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"st-mary-cvd", budget.Latest.RecordBand, "spent of 5"} {
		if _, err := waitText(ctx, "#my-datasets", want); err != nil {
			t.Fatal(pageText(ctx, err))
		}
	}
	// Versions, the ingest report and the quarantine.
	for _, want := range []string{"st-mary-cvd version 2: St Mary's cardiovascular cohort, 2025 refresh", "st-mary-cvd version 1",
		fmt.Sprintf("Ingest report: %d rows read from 1 csv file(s), %d kept, 1 quarantined", rep.RowsRead, rep.RowsKept),
		"De-identification rules applied", "Quarantine: 1 row(s) set aside", "row ", "Schema: "} {
		if _, err := waitText(ctx, "#console-versions", want); err != nil {
			t.Fatal(pageText(ctx, err))
		}
	}
	// Jobs on its data: the settled one, and the refusal with its safe reason.
	for _, want := range []string{fmt.Sprintf("job %d", good.ID), "result posted at height", fmt.Sprintf("%d tokens", fee),
		fmt.Sprintf("job %d", refused.ID), "refused by your worker: no_such_column at filter[0].column"} {
		if _, err := waitText(ctx, "#console-jobs", want); err != nil {
			t.Fatal(pageText(ctx, err))
		}
	}
	// Earnings, patient links, workers.
	for _, want := range []string{fmt.Sprintf("fees received\n%d tokens", fee), "refusals by your worker\n1", "patients linked\n"} {
		if _, err := waitText(ctx, "#console-earnings", want); err != nil {
			t.Fatal(pageText(ctx, err))
		}
	}
	if _, err := waitText(ctx, "#console-workers", "result at height"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#console-devices", "ward3-cuff\tbp cuff\tloinc 8480-6 (mm[Hg])\tsuspended"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var all string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.body.innerText`, &all)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(all, planted) || strings.Contains(all, "favourite_colour\" =") {
		t.Fatalf("the console shows a record's value:\n%s", all)
	}
	// Keyboard: the policy editor opens from the keyboard alone.
	if err := run(ctx, chromedp.Focus(`button[data-edit="st-mary-cvd"]`, chromedp.ByQuery), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`#policy-form input[name="price"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	screenshots(t, ctx, "console", "console", "network")

	// What the vault view's bytes carry: positions, fields, reasons and
	// counts — not the planted value, nor any identifier of the ingested
	// patients.
	req, err := http.NewRequest("GET", n.URL+"/v1/orgs/st-mary/vault", nil)
	if err != nil {
		t.Fatal(err)
	}
	stAdmin, err := n.Key("st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := reqsig.SignHTTP(stAdmin.Sign, apitest.ChainID, req, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"reason": "not a number"`)) || !bytes.Contains(body, []byte(`"where": "row 4"`)) {
		t.Fatalf("vault view: %d %s", resp.StatusCode, body)
	}
	idents := []string{planted}
	for _, p := range people {
		idents = append(idents, p.ID, p.MRN, p.SSN, p.Phone, p.Given+" "+p.Family, p.Street, p.DriversLicence, p.Passport)
	}
	for _, id := range idents {
		if id != "" && (bytes.Contains(body, []byte(id)) || strings.Contains(all, id)) {
			t.Errorf("an identifier or value (%q) reached the console's vault view or page", id)
		}
	}

	// The ingest report was read on requests signed in this browser, and
	// nothing secret left it; the planted value never came back either.
	admin, err := keys.Load(node.KeysDir(n.Home), "st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		Seed   []byte `json:"ed25519_seed"`
		X25519 []byte `json:"x25519_private"`
	}
	if err := json.Unmarshal(keyFile, &kf); err != nil || len(kf.Seed) != 32 {
		t.Fatalf("key file: %v", err)
	}
	secrets := map[string]string{"passphrase": pass}
	for name, b := range map[string][]byte{"ed25519 seed": kf.Seed, "x25519 key": kf.X25519} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		secrets[name+" (hex)"] = hex.EncodeToString(b)
	}
	signed := 0
	for _, r := range requests() {
		for name, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("the %s was sent to the server: %.200s", name, r)
			}
		}
		if strings.HasPrefix(r, "GET "+n.URL+"/v1/orgs/st-mary/vault\n") && strings.Contains(r, "Authorization: MedchainSig key=") {
			signed++
		}
	}
	if signed == 0 {
		t.Fatalf("no signed request for St Mary's ingest reports (%s)", admin.Address())
	}
}
