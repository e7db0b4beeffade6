package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/medchain/medchain/web"
)

// TestBrowserSignsRequestsLikeGo signs every request-signature vector
// (reqsig/testdata/vectors.json, written by the Go package reqsig) with the
// web app's code in headless Chromium and requires the same message and
// Authorization header: a listing the patient page signs is one the node
// verifies.
func TestBrowserSignsRequestsLikeGo(t *testing.T) {
	browser := chromium(t)
	vectors, err := os.ReadFile("../reqsig/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/test/reqsig.json", func(w http.ResponseWriter, r *http.Request) { w.Write(vectors) })
	mux.HandleFunc("/test/reqsig-vectors.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "testdata/reqsig-vectors.html")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dom := dumpDOM(t, browser, srv.URL+"/test/reqsig-vectors.html")
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no output in page:\n%s", dom)
	}
	text := htmlUnescape(m[1])
	if strings.HasPrefix(text, "ERROR") || text == "running" {
		t.Fatalf("harness: %s", text)
	}
	var got []struct{ Name, Message, Authorization string }
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v in %s", err, text)
	}
	var want []struct {
		Name          string `json:"name"`
		Message       string `json:"message"`
		Authorization string `json:"authorization"`
	}
	if err := json.Unmarshal(vectors, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("browser signed %d vectors, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Message != w.Message || got[i].Authorization != w.Authorization {
			t.Errorf("%s: browser wrote\n%q\n%s\nGo wrote\n%q\n%s", w.Name, got[i].Message, got[i].Authorization, w.Message, w.Authorization)
		}
	}
}
