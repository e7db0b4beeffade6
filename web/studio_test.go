package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// demoMeasurement is the code measurement the demo's workers are registered
// and run with in this test (a dev network's software attestation).
const demoMeasurement = "7e57000000000000000000000000000000000000000000000000000000000001"

// startDemo starts a dev network with its compute workers on and the
// demo of `medchain up` seeded: three hospitals' synthetic cohorts,
// policies, workers and patients' consents (Northside is opt-in: its
// enrolled patients permit research).
func startDemo(t *testing.T, ctx context.Context) *apitest.Node {
	t.Helper()
	n, err := apitest.StartWith(node.Options{Workers: true, WorkerMeasurement: demoMeasurement, DevSignIn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	v, err := vaultcfg.Open(filepath.Join(n.Home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL)
	say := func(string, ...any) {}
	start := time.Now()
	if err := seed.Demo(ctx, c, v, node.KeysDir(n.Home), demoMeasurement, say); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoEnrol(ctx, c, v, node.KeysDir(n.Home), 200, say); err != nil {
		t.Fatal(err)
	}
	t.Logf("demo seeded in %v", time.Since(start).Round(time.Millisecond))
	return n
}

// pick sets a select's value and tells the page, as a person choosing does.
func pick(sel, value string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change")); return s.value })()`, sel, value), nil)
}

// waitFor polls a JavaScript condition until it holds or the time is up.
func waitFor(ctx context.Context, within time.Duration, cond string) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(cond, &ok)); err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("after %v still not %s", within, cond)
}

// TestResearcherJourney: on a fresh dev network with the demo, a
// researcher signs in with the dev network's one-click key, reads the
// catalogue (schemas, policies, budgets), composes the three-hospital
// pooled logistic study (outcome, predictors, an interaction, a filter),
// has the node check it against the schemas and price it, signs and submits
// it in the browser, watches its timeline until it completes (the hospitals'
// workers compute; the ledger sums the masked rounds), and opens the result:
// downloaded, checked against the result hash on the ledger, decrypted in the
// browser, drawn as a forest plot. The ledger then holds the job the
// browser signed, and the page's coefficients are the ones the Go client
// decrypts. No request the page made carried the researcher's private keys
// or anything of the decrypted result.
func TestResearcherJourney(t *testing.T) {
	chrome := chromium(t)
	if testing.Short() {
		t.Skip("seeds the demo and runs a pooled study")
	}
	ctx0, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	n := startDemo(t, ctx0)
	rita, err := n.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}

	ctx, requests := browserCtxFor(t, chrome, 7*time.Minute)
	devKey := `button.devkey[data-name="rita-researcher"]`
	if err := run(ctx, chromedp.Navigate(n.URL+"/#signin"), chromedp.WaitVisible(devKey, chromedp.ByQuery), chromedp.Click(devKey, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#signin-msg", "Signed in as rita-researcher"); err != nil {
		t.Fatal(err)
	}

	// The catalogue shows each dataset's schema, policy and budget.
	if err := run(ctx, goTo("#studio"), chromedp.WaitVisible(`#studio-catalogue article[data-dataset="lakeview-cvd"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#studio-catalogue", "privacy budget left"); err != nil {
		t.Fatal(err)
	}
	var cat string // textContent: the schemas are folded in <details>
	if err := run(ctx, chromedp.Evaluate(`document.querySelector("#studio-catalogue").textContent`, &cat)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"St Mary's cardiovascular cohort", "8480-6", "mm[Hg]", "minimum cohort", "100 tokens per job", "ε 5 of ε 5"} {
		if !strings.Contains(cat, want) {
			t.Errorf("the catalogue does not show %q", want)
		}
	}

	// Compose: three datasets, logistic regression, the demo's risk
	// factors, an interaction and a filter.
	var acts []chromedp.Action
	for _, s := range seed.DemoSites {
		acts = append(acts, chromedp.Click(fmt.Sprintf(`#c-datasets input[value=%q]`, s.Dataset), chromedp.ByQuery))
	}
	acts = append(acts, pick("#c-analysis", "logistic_regression"), pick("#c-purpose", "research"), pick("#c-outcome", "cvd_10y"))
	for _, f := range []string{"age", "sbp", "total_chol", "hdl", "smoker", "diabetes"} {
		acts = append(acts, chromedp.Click(fmt.Sprintf(`#c-features input[value=%q]`, f), chromedp.ByQuery))
	}
	acts = append(acts, pick("#c-int-a", "age"), pick("#c-int-b", "smoker"), chromedp.Click("#c-add-int", chromedp.ByID),
		chromedp.Click("#c-add-filter", chromedp.ByID), pick("#c-filters .filter select.fcol", "age"), pick("#c-filters .filter select.fop", ">="),
		chromedp.SendKeys("#c-filters .filter input", "30", chromedp.ByQuery),
		// Each site proves its contribution's bounds before posting, slowly
		// on a loaded machine: a generous iteration deadline, as the demo's.
		chromedp.SendKeys("#c-iter-blocks", "300", chromedp.ByID))
	if err := run(ctx, acts...); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var params string
	if err := run(ctx, chromedp.Value("#c-params", &params, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"outcome": "cvd_10y"`, `"age:smoker"`, `"op": ">="`} {
		if !strings.Contains(params, want) {
			t.Fatalf("the composer wrote params %s, want %s in them", params, want)
		}
	}

	// A mistake is caught before signing, naming the parameter.
	if err := run(ctx, chromedp.SendKeys("#c-terms", "bmi_z", chromedp.ByID), chromedp.Click("#c-check", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if msg, err := waitText(ctx, "#composer-msg", "Not valid: "); err != nil || !strings.Contains(msg, `no column "bmi_z"`) || !strings.Contains(msg, "params.features[7]") {
		t.Fatalf("%q, %v; want the missing column named, at params.features[7]", msg, err)
	}
	if err := run(ctx, chromedp.Evaluate(`(() => { const i = document.querySelector("#c-terms"); i.value = ""; i.dispatchEvent(new Event("input")) })()`, nil),
		chromedp.Click("#c-check", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#composer-msg", "fits every dataset's schema"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var price string
	if err := run(ctx, chromedp.Text("#c-price", &price, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(seed.DemoSites[0].Price+seed.DemoSites[1].Price+seed.DemoSites[2].Price) + " tokens"; !strings.HasPrefix(price, want) {
		t.Fatalf("the page quotes %q, want %q", price, want)
	}
	// The study submitted is the demo's (a pooled fit with the
	// interaction of raw age did not converge within the job's deadline on
	// this test network): the interaction and the filter are removed, and
	// the changed study must be checked again before it can be signed.
	var disabled bool
	if err := run(ctx, chromedp.Click(`#c-interactions button`, chromedp.ByQuery), chromedp.Click(`#c-filters .filter button`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#c-submit").disabled`, &disabled)); err != nil {
		t.Fatal(err)
	}
	if !disabled {
		t.Fatal("a changed study can be submitted without being checked again")
	}
	if err := run(ctx, chromedp.Value("#c-params", &params, chromedp.ByID)); err != nil || strings.Contains(params, "age:smoker") || strings.Contains(params, "filter") {
		t.Fatalf("after removing the interaction and the filter the params are %s (%v)", params, err)
	}
	if err := run(ctx, chromedp.Click("#c-check", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#composer-msg", "fits every dataset's schema"); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if err := run(ctx, chromedp.WaitEnabled("#c-submit", chromedp.ByID), chromedp.Click("#c-submit", chromedp.ByID)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	// Admitted, the page moves to the job's own page.
	if err := waitFor(ctx, 30*time.Second, `location.hash.startsWith("#job/")`); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	var hash string
	if err := run(ctx, chromedp.Evaluate(`location.hash`, &hash)); err != nil {
		t.Fatal(err)
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(hash, "#job/"), 10, 64)
	if err != nil {
		t.Fatalf("after submitting the page is at %q, want #job/ID", hash)
	}
	c := client.New(n.URL)
	job, err := c.Job(ctx0, id)
	if err != nil {
		t.Fatal(err)
	}
	if job.Requester != rita.Address() || len(job.Sites) != 3 || job.Study == nil || job.Analysis != "logistic_regression" || job.Study.IterationBlocks != 300 {
		t.Fatalf("the ledger admitted %+v", job)
	}

	// The page follows the job live until it completes, then opens the result.
	if err := waitFor(ctx, 6*time.Minute, `document.querySelector("#job-status").dataset.status !== "admitted" && document.querySelector("#job-status").dataset.status !== undefined`); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if job, err = c.Job(ctx0, id); err != nil || job.Status != ledger.JobCompleted {
		t.Fatalf("job %d: %+v, %v", id, job, err)
	}
	tl, err := waitText(ctx, "#job-timeline", "completed and settled")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admitted: 240 tokens escrowed", "study round 0 started", "summed on the ledger", "result posted by worker"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline does not show %q:\n%s", want, tl)
		}
	}
	if _, err := waitText(ctx, "#result-verified", "Verified against the ledger: 3 of 3 results."); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	// Among the checks: each result hash proven on chain in the browser.
	checks, err := waitText(ctx, "#result-checks", "in the job record on chain")
	if err != nil || strings.Count(checks, "✓ the result hash is in the job record on chain") != 3 {
		t.Fatalf("the result checks do not prove each hash on chain (%v):\n%s", err, checks)
	}
	var terms, ms string
	var canvases int
	if err := waitFor(ctx, 10*time.Second, `document.querySelector("#forest")?.dataset.ms !== undefined`); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if err := run(ctx, chromedp.WaitVisible("#forest canvas", chromedp.ByQuery),
		chromedp.AttributeValue("#forest", "data-terms", &terms, nil, chromedp.ByID),
		chromedp.AttributeValue("#forest", "data-ms", &ms, nil, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#result-body canvas").length`, &canvases)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	t.Logf("forest plot of %s terms drawn in %s ms (loaded shared machine)", terms, ms)
	var drawn struct {
		Inked int    `json:"inked"`
		Label string `json:"label"`
	}
	if err := run(ctx, chromedp.Evaluate(`(() => {
		const c = document.querySelector("#forest canvas");
		const d = c.width ? c.getContext("2d").getImageData(0, 0, c.width, c.height).data : [];
		let n = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
		return { inked: n, label: document.querySelector("#forest").getAttribute("aria-label") };
	})()`, &drawn)); err != nil {
		t.Fatal(err)
	}
	if drawn.Inked < 2000 || !strings.Contains(drawn.Label, "odds ratio") || !strings.Contains(drawn.Label, "diabetes ") {
		t.Fatalf("the forest plot was not drawn: %d pixels painted; it says %q", drawn.Inked, drawn.Label)
	}

	// The page shows the coefficients the Go client decrypts.
	res, _, err := compute.FetchResult(ctx0, c, job, job.Sites[0].Dataset, rita)
	if err != nil {
		t.Fatal(err)
	}
	var rel compute.PooledRelease
	if err := json.Unmarshal(res.Release, &rel); err != nil {
		t.Fatal(err)
	}
	coefs := rel.Regression.Coefficients
	if terms != strconv.Itoa(len(coefs)-1) {
		t.Errorf("the forest plot has %s terms, the result %d (and the intercept)", terms, len(coefs)-1)
	}
	var table string
	if err := run(ctx, chromedp.Text("#coefficients", &table, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	for _, co := range coefs {
		if !strings.Contains(table, co.Name) || !strings.Contains(table, strconv.FormatFloat(co.Estimate, 'f', 4, 64)) {
			t.Errorf("the coefficient table does not show %s = %.4f:\n%s", co.Name, co.Estimate, table)
		}
	}
	// The downloads are made in the page (blob: URLs) and hold what the
	// page decrypted.
	dl := t.TempDir()
	if err := run(ctx, browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(dl),
		chromedp.Click("#download-csv", chromedp.ByID), chromedp.Click("#download-json", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	csvFile := filepath.Join(dl, fmt.Sprintf("job-%d-coefficients.csv", id))
	jsonFile := filepath.Join(dl, fmt.Sprintf("job-%d-results.json", id))
	var csvText, jsonText []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		csvText, _ = os.ReadFile(csvFile)
		jsonText, _ = os.ReadFile(jsonFile)
		if len(csvText) > 0 && len(jsonText) > 0 {
			break
		}
	}
	if !strings.HasPrefix(string(csvText), "term,estimate,se,z,p,lower,upper,odds_ratio") {
		t.Errorf("downloaded CSV:\n%s", csvText)
	}
	for _, co := range coefs {
		if !strings.Contains(string(csvText), co.Name+","+strconv.FormatFloat(co.Estimate, 'g', -1, 64)+",") {
			t.Errorf("the CSV has no row %s,%v", co.Name, co.Estimate)
		}
	}
	var downloaded []compute.Result
	if err := json.Unmarshal(jsonText, &downloaded); err != nil || len(downloaded) != 3 || downloaded[0].Job != id || downloaded[0].ReleaseKind != compute.KindPooledRegression {
		t.Errorf("downloaded JSON (%v): %.300s", err, jsonText)
	}

	screenshots(t, ctx, "researcher", "job/"+strconv.FormatUint(id, 10), "studio")

	// Nothing secret, nothing decrypted, left the browser.
	secrets := map[string]string{"release kind": `release_kind`, "result format": compute.ResultFormat}
	for name, b := range map[string][]byte{"ed25519 seed": rita.Sign.Seed(), "x25519 key": rita.Enc.Bytes()} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		secrets[name+" (hex)"] = hex.EncodeToString(b)
		secrets[name+" (raw)"] = string(b)
	}
	for i, co := range coefs {
		secrets[fmt.Sprintf("coefficient %d", i)] = strconv.FormatFloat(co.Estimate, 'g', -1, 64)
	}
	reqs := requests()
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
	if posts < 3 { // two checks and the signed submit_job
		t.Fatalf("recorded %d POST requests, want the checks and the signed job", posts)
	}
}
