package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/web"
)

// TestBrowserStateProof checks the job page's on-chain proof code on a real
// node's state: an account's proof verifies against the state root, its
// CBOR record reads as the Go account (address, kind), and a proof with a
// flipped sibling, a changed value, another key or another root is refused.
func TestBrowserStateProof(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seedCatalogue(t, ctx, n)
	rita, err := n.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(n.URL)
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.Handle("/v1/", httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("/test/stateproof.html", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, "testdata/stateproof.html") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	key := string(ledger.KeyAccount(rita.Address()))
	dom := dumpDOM(t, browser, srv.URL+"/test/stateproof.html?key="+url.QueryEscape(key))
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil || strings.HasPrefix(m[1], "ERROR") || m[1] == "running" {
		t.Fatalf("harness: %v", m)
	}
	var got struct {
		Genuine, Sibling, Value, Key, Root string
		Record                             []any
	}
	if err := json.Unmarshal([]byte(htmlUnescape(m[1])), &got); err != nil {
		t.Fatalf("%v: %s", err, m[1])
	}
	if got.Genuine != "ok" {
		t.Fatalf("the genuine proof of %s: %s", key, got.Genuine)
	}
	for name, r := range map[string]string{"sibling": got.Sibling, "value": got.Value, "key": got.Key, "root": got.Root} {
		if !strings.HasPrefix(r, "refused: ") {
			t.Errorf("a proof with a changed %s: %s, want refused", name, r)
		}
	}
	if len(got.Record) != 8 || got.Record[0] != rita.Address() || got.Record[3] != string(ledger.KindResearcher) || got.Record[1] != "bytes:32" {
		t.Errorf("the account record read from CBOR: %v", got.Record)
	}
}
