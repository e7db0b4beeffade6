package web_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zkmodel"
)

// canvasInk counts the pixels of the first canvas under sel painted in the
// first curve's colour (#1f60a0, plots.ts kmColours): the curve and its
// interval, not the axes and grid, which a plot without data has too.
const canvasInk = `(() => {
  const c = document.querySelector(%q);
  if (!c || !c.width || !c.height) return -1;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.abs(d[i] - 31) < 24 && Math.abs(d[i + 1] - 96) < 24 && Math.abs(d[i + 2] - 160) < 24) n++;
  return n;
})()`

// TestSurvivalPlotAndModelPage runs, on a fresh dev network with the demo
// and its compute workers: a researcher's single-site survival job (curves
// over a public grid), whose result the job page verifies against the
// ledger (down to the validators' signatures), decrypts and draws as
// Kaplan–Meier steps with the released risk table; then a model committed
// on the ledger (package zkmodel) shown on the models page, its commitment
// proven in the browser, a prediction asked for from the page, answered by
// the owner's proof (zkmodel.Prove, bound to the page's request id) and
// verified, and the same proof with another bucket refused.
func TestSurvivalPlotAndModelPage(t *testing.T) {
	chrome := chromium(t)
	ctx0, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	n := startDemo(t, ctx0)
	rita, err := n.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL)

	// The survival job, submitted by the Go client; st-mary's worker runs it.
	rec, err := c.SignAndSubmit(ctx0, rita, &ledger.SubmitJob{Datasets: []string{"st-mary-cvd"}, Analysis: "survival",
		Params:  json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[2,4,6,8,10]}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()}, true)
	if err != nil {
		t.Fatal(err)
	}
	id, err := client.JobID(rec.Result)
	if err != nil {
		t.Fatalf("%v: %+v", err, rec.Result)
	}
	for {
		j, err := c.Job(ctx0, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == ledger.JobCompleted {
			break
		}
		if j.Status != ledger.JobAdmitted {
			t.Fatalf("survival job %d %s: %s", id, j.Status, j.Reason)
		}
		select {
		case <-ctx0.Done():
			t.Fatal("the survival job did not complete")
		case <-time.After(300 * time.Millisecond):
		}
	}

	ctx, _ := browserCtxFor(t, chrome, 4*time.Minute)
	devKey := `button.devkey[data-name="rita-researcher"]`
	if err := run(ctx, chromedp.Navigate(n.URL+"/#signin"), chromedp.WaitVisible(devKey, chromedp.ByQuery), chromedp.Click(devKey, chromedp.ByQuery)); err != nil {
		t.Fatal(pageText(ctx, err))
	}
	if _, err := waitText(ctx, "#signin-msg", "Signed in as rita-researcher"); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, goTo("#job/"+itoa(id))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, time.Minute, `document.querySelector("#result-verified")?.dataset.result === "verified" && !!document.querySelector("#km canvas")`); err != nil {
		var checks string
		chromedp.Run(ctx, chromedp.Text("#job-results", &checks, chromedp.ByID))
		t.Fatalf("%v\n%s", err, checks)
	}
	var checks string
	if err := run(ctx, chromedp.Text("#result-checks", &checks, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(checks, "is signed by the trusted validators: block") {
		t.Fatalf("the result's checks do not include the header signatures:\n%s", checks)
	}
	// uPlot paints in a microtask and the series after it: wait for ink.
	var ink int
	if err := waitFor(ctx, 10*time.Second, strings.Replace(canvasInk, "%q", `"#km canvas"`, 1)+" > 200"); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, chromedp.Evaluate(strings.Replace(canvasInk, "%q", `"#km canvas"`, 1), &ink)); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := run(ctx, chromedp.Evaluate(`document.querySelectorAll("#risk-table tbody tr").length`, &rows)); err != nil {
		t.Fatal(err)
	}
	if rows < 2 {
		t.Fatalf("the risk table has %d rows", rows)
	}
	t.Logf("Kaplan–Meier plot painted (%d pixels in the curve's colour), risk table of %d rows", ink, rows)

	// A model committed on the ledger by its owner (the opening stays here).
	scale := uint(16)
	msg, opening, err := zkmodel.Commit(zkmodel.Request{ID: "cvd-risk-web", Description: "10-year CVD risk",
		Spec: zkmodel.Spec{Weights: []float64{0.06, 0.018, -0.4}, Intercept: -9.5, Scale: &scale,
			Features: []ledger.ModelFeature{{Name: "age", Unit: "a"}, {Name: "sbp", System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}, {Name: "smoker"}}},
		Thresholds: []float64{0.05, 0.1, 0.2}}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opening.ChainID = apitest.ChainID
	if r, err := c.SignAndSubmit(ctx0, rita, msg, true); err != nil || r.Result == nil || r.Result.Code != ledger.CodeOK {
		t.Fatalf("register_model: %v %+v", err, r)
	}
	if err := run(ctx, goTo("#models/cvd-risk-web")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#model-proven", "proven on chain at height"); err != nil {
		t.Fatal(err)
	}
	// The researcher asks: her inputs and a fresh request id, for the owner.
	if err := run(ctx, chromedp.SetValue("#predict-x-0", "61", chromedp.ByID), chromedp.SetValue("#predict-x-1", "150", chromedp.ByID),
		chromedp.SetValue("#predict-x-2", "1", chromedp.ByID), chromedp.Click("#predict-form button", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	command, err := waitText(ctx, "#predict-command", "medchain model prove --id cvd-risk-web --x 61,150,1 --request web-")
	if err != nil {
		t.Fatal(err)
	}
	request := regexp.MustCompile(`--request (\S+)`).FindStringSubmatch(command)[1]
	// The owner answers with the opening, as medchain model prove does.
	m, err := c.Model(ctx0, "cvd-risk-web")
	if err != nil {
		t.Fatal(err)
	}
	pf, err := zkmodel.Prove(opening, m, apitest.ChainID, request, []float64{61, 150, 1}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(pf any) (string, string) {
		b, _ := json.Marshal(pf)
		if err := run(ctx, chromedp.SetValue("#proof-text", string(b), chromedp.ByID), chromedp.Evaluate(`document.querySelector("#proof-msg").dataset.result = ""`, nil),
			chromedp.Click("#proof-form button", chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, 30*time.Second, `!!document.querySelector("#proof-msg").dataset.result`); err != nil {
			t.Fatal(err)
		}
		var msg, checks string
		if err := run(ctx, chromedp.Text("#proof-msg", &msg, chromedp.ByID), chromedp.Text("#proof-checks", &checks, chromedp.ByID)); err != nil {
			t.Fatal(err)
		}
		return msg, checks
	}
	msgText, checks := verify(pf)
	if !strings.Contains(msgText, "Proof verified: model cvd-risk-web puts these inputs in bucket "+itoa(uint64(pf.Bucket))) ||
		!strings.Contains(checks, "verified BY THE NODE") || strings.Contains(checks, "✗") {
		t.Fatalf("the owner's proof: %s\n%s", msgText, checks)
	}
	screenshots(t, ctx, "plots-models", "job/"+itoa(id), "models/cvd-risk-web")

	// The same proof claiming another bucket: the node's ZK check refuses it.
	forged := *pf
	forged.Bucket = (pf.Bucket + 1) % uint32(len(m.BucketLabels))
	if msgText, checks = verify(&forged); !strings.Contains(msgText, "does NOT verify") || !strings.Contains(checks, "✗ the zero-knowledge proof verifies") {
		t.Fatalf("a proof with another bucket: %s\n%s", msgText, checks)
	}
	// And inputs other than the ones asked are caught in the browser.
	other := *pf
	other.X = append([]int64{}, pf.X...)
	other.X[1]++
	if msgText, checks = verify(&other); !strings.Contains(checks, "✗ its inputs are the ones asked") {
		t.Fatalf("a proof of other inputs: %s\n%s", msgText, checks)
	}
}

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }
