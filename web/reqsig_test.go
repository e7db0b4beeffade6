package web_test

import (
	"encoding/json"
	"os"
	"testing"
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
	text := vectorHarness(t, browser, "reqsig.json", vectors, "testdata/reqsig-vectors.html")
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
