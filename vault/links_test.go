package vault_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medchain/medchain/vault"
)

func TestPatientLinks(t *testing.T) {
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w1); err != nil || prev != "" {
		t.Fatal(prev, err)
	}
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w2); err != nil || prev != w1 {
		t.Fatal(prev, err)
	}
	v.LinkPatient("st-mary", "pseudo-0", w1)
	l, err := v.Links("st-mary")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Wallet("pseudo-1"); !ok || got != w2 {
		t.Fatal(got, ok)
	}
	if _, ok := l.Wallet("pseudo-2"); ok {
		t.Fatal("unlinked pseudonym found")
	}
	if l, err := v.Links("northside"); err != nil || len(l.Links) != 0 {
		t.Fatal(l, err)
	}
	path := filepath.Join(dir, "links", "st-mary.links")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatal(st.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "pseudo-1") || strings.Contains(string(b), w2) {
		t.Fatal("link table stored in the clear")
	}
	// Another org's name on the file does not open (associated data), nor does a flipped bit.
	os.WriteFile(filepath.Join(dir, "links", "northside.links"), b, 0o600)
	if _, err := v.Links("northside"); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := v.Links("st-mary"); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	if _, err := v.LinkPatient("st-mary", "p", "not-a-wallet"); err == nil {
		t.Fatal("bad wallet accepted")
	}
}

// TestLinksFastDecode: the fast path decodes what json.Marshal writes to
// the same table as encoding/json, and anything unusual falls back to it.
func TestLinksFastDecode(t *testing.T) {
	for _, l := range []vault.Links{
		{Org: "st-mary"},
		{Org: "st-mary", Links: []vault.Link{}},
		{Org: "st-mary", Links: []vault.Link{{Pseudonym: "a1", Wallet: strings.Repeat("0", 40)}, {Pseudonym: "b2", Wallet: strings.Repeat("f", 40)}}},
		{Org: "st-mary", Links: []vault.Link{{Pseudonym: "a<b&\"c\\d\u00e9\x01", Wallet: "w"}}},
	} {
		plain, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := vault.DecodeLinks(plain)
		if err != nil {
			t.Fatalf("%s: %v", plain, err)
		}
		var want vault.Links
		if err := json.Unmarshal(plain, &want); err != nil {
			t.Fatal(err)
		}
		if len(got.Links) == 0 && len(want.Links) == 0 {
			got.Links, want.Links = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, encoding/json %+v", plain, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"org":"x","links":[{"pseudonym":"a","wallet":"b"}`, `{"org":"x","links":[]}x`, `[]`} {
		if _, err := vault.DecodeLinks([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// Whitespace and key order differ from json.Marshal's: the fallback.
	got, err := vault.DecodeLinks([]byte(` { "links" : [ { "wallet":"w", "pseudonym":"p" } ], "org":"o" } `))
	if err != nil || got.Org != "o" || len(got.Links) != 1 || got.Links[0] != (vault.Link{Pseudonym: "p", Wallet: "w"}) {
		t.Errorf("fallback: %+v %v", got, err)
	}
}
