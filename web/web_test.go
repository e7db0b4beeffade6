package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/api/apitest"
)

// chromium finds a headless browser. CI installs Debian's chromium
// (.ci/run); a developer machine without one skips this test and says so.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on a CI machine: .ci/run must install it")
	}
	t.Skip("no chromium installed (apt-get install chromium)")
	return ""
}

// TestDashboard loads the dashboard from a real node in headless Chromium
// and checks that what a person sees comes from the ledger: the network
// status, the member organisations, a published dataset with its policy,
// the audit log, and a patient's consents.
func TestDashboard(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seedCatalogue(t, ctx, n)

	// Not dumpDOM: the app keeps the node's event stream open (live
	// updates), so the network never goes idle and --virtual-time-budget,
	// which waits for idle, would never dump. Chromium under chromedp
	// loads the page, which is read once its audit log has arrived.
	bctx, _ := browserCtx(t, browser)
	var dom string
	if _, err := waitTextAfter(bctx, n.URL+"/", "#auditlog", "set_policy"); err != nil {
		t.Fatal(err)
	}
	if err := run(bctx, chromedp.OuterHTML("html", &dom, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"medchain-test",         // chain id in the status panel
		"St Mary's Hospital",    // an organisation
		"Acme Pharma Research",  // another
		"CVD risk cohort",       // the dataset's title
		"1k-10k",                // its record band, never an exact count
		"<td>250</td>",          // its price
		"<td>give_consent</td>", // the audit log
		"<td>set_policy</td>",   // …
		"s/pol/cvd-cohort",      // the state key it changed
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("dashboard does not show %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}

// waitTextAfter opens url and waits until sel's text contains want.
func waitTextAfter(ctx context.Context, url, sel, want string) (string, error) {
	if err := run(ctx, chromedp.Navigate(url)); err != nil {
		return "", err
	}
	return waitText(ctx, sel, want)
}

func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	profile := filepath.Join(t.TempDir(), "profile")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--virtual-time-budget=8000", "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return string(out)
}

// TestFirstLoad opens the app from a real node in headless Chromium and
// logs how long the first load takes on loopback (navigation to the load
// event, and until the catalogue is on the page) and how many bytes of
// JavaScript it fetched; it asserts only that the page came up.
func TestFirstLoad(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx0, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seedCatalogue(t, ctx0, n)
	ctx, _ := browserCtx(t, browser)
	start := time.Now()
	if err := run(ctx, chromedp.Navigate(n.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#datasets", "CVD risk cohort"); err != nil {
		t.Fatal(err)
	}
	shown := time.Since(start)
	var m struct {
		Load float64 `json:"load"`
		JS   float64 `json:"js"`
		N    int     `json:"n"`
	}
	if err := run(ctx, chromedp.Evaluate(`(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		const js = performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js"));
		return { load: nav.loadEventEnd - nav.startTime, js: js.reduce((s, r) => s + r.encodedBodySize, 0), n: js.length };
	})()`, &m)); err != nil {
		t.Fatal(err)
	}
	t.Logf("first load on loopback: load event %.0f ms, catalogue shown %v; %d JavaScript files, %.0f bytes (uncompressed)", m.Load, shown.Round(time.Millisecond), m.N, m.JS)
}
