package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/web"
)

// TestBrowserSignsLikeGo signs every canonical transaction vector
// (ledger/testdata/vectors/tx.json, written by the Go client's SignTx) with
// the web app's code in headless Chromium and requires the same bytes: a
// transaction signed in the browser is byte-identical to the Go client's,
// so the ledger accepts it and its hash is the one the user saw.
func TestBrowserSignsLikeGo(t *testing.T) {
	browser := chromium(t)
	vectors, err := os.ReadFile("../ledger/testdata/vectors/tx.json")
	if err != nil {
		t.Fatal(err)
	}
	text := vectorHarness(t, browser, "tx.json", vectors, "testdata/sign-vectors.html")
	var got struct {
		Results []struct{ Name, Type, Tx, Hash, Skipped string }
		Unknown string
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v in %s", err, text)
	}
	var want struct {
		Accept []struct{ Name, Tx, Hash string }
	}
	if err := json.Unmarshal(vectors, &want); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != len(want.Accept) {
		t.Fatalf("browser signed %d vectors, want %d", len(got.Results), len(want.Accept))
	}
	skippable := buildSpec(t).Skipped
	signed := 0
	for i, w := range want.Accept {
		g := got.Results[i]
		if g.Skipped != "" {
			if skippable[g.Type] == "" {
				t.Errorf("%s: browser skipped %s (%s), which the message table says it can sign", w.Name, g.Type, g.Skipped)
			}
			continue
		}
		signed++
		if g.Tx != w.Tx || g.Hash != w.Hash {
			t.Errorf("%s: browser wrote\n%s\nGo wrote\n%s", w.Name, g.Tx, w.Tx)
		}
	}
	if signed == 0 {
		t.Fatal("no vector was signed in the browser")
	}
	t.Logf("%d of %d vectors signed byte-identically in the browser", signed, len(want.Accept))
	if !strings.Contains(got.Unknown, "payload.msg.amout: unknown field") {
		t.Errorf("an unknown field: %q, want it refused by path", got.Unknown)
	}
}

// vectorHarness serves the app with vectors at /test/NAME and a harness
// page that runs the app's code over them, loads the page in the browser
// and returns what it printed (its <pre id="out">), failing the test on a
// harness error.
func vectorHarness(t *testing.T, browser, name string, vectors []byte, page string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/test/"+name, func(w http.ResponseWriter, r *http.Request) { w.Write(vectors) })
	mux.HandleFunc("/test/harness.html", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, page) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dom := dumpDOM(t, browser, srv.URL+"/test/harness.html")
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no output in page:\n%s", dom)
	}
	text := htmlUnescape(m[1])
	if strings.HasPrefix(text, "ERROR") || text == "running" {
		t.Fatalf("harness: %s", text)
	}
	return text
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(s)
}

// TestForestPlot30Terms draws a forest plot of 30 terms with the app's
// plotting code in headless Chromium (a real run, not virtual time) and
// logs how long the first and a typical render take; it asserts only that
// the plots were drawn — the forest plot, then a ROC curve and a
// calibration plot (no timing assertions: the machine may be loaded).
func TestForestPlot30Terms(t *testing.T) {
	browser := chromium(t)
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/test/forest-bench.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "testdata/forest-bench.html")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, _ := browserCtx(t, browser)
	if err := run(ctx, chromedp.Navigate(srv.URL+"/test/forest-bench.html")); err != nil {
		t.Fatal(err)
	}
	text, err := waitText(ctx, "#out", "}")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		First, Median   float64
		Canvases, Width int
		Inked           int
		Others          struct{ ROC, Calibration int }
		Errors          []string
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	// Drawn: one sized canvas with ink on it (30 intervals, their labels
	// and the axes are thousands of pixels), no error in uPlot's deferred
	// drawing.
	if got.Canvases != 1 || got.Width == 0 || got.Inked < 5000 || len(got.Errors) > 0 {
		t.Fatalf("the forest plot was not drawn: %s", text)
	}
	// So are the ROC curve and the calibration plot.
	if got.Others.ROC < 2000 || got.Others.Calibration < 2000 {
		t.Fatalf("the ROC or calibration plot was not drawn: %s", text)
	}
	t.Logf("forest plot of 30 terms: first render %.1f ms, median of 20 more %.1f ms", got.First, got.Median)
}
