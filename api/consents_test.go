package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/reqsig"
)

// signedReq is a GET of path signed by k now.
func signedReq(t *testing.T, k *keys.Key, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", tn.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reqsig.SignHTTP(k.Sign, apitest.ChainID, req, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// send makes req and returns the status, the body and the error body if any.
func send(t *testing.T, req *http.Request) (int, []byte, *api.Error) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var eb struct{ Error *api.Error }
	json.Unmarshal(b, &eb)
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != reqsig.Scheme {
		t.Errorf("GET %s: 401 without WWW-Authenticate: %s", req.URL.Path, reqsig.Scheme)
	}
	return resp.StatusCode, b, eb.Error
}

// getAs GETs path signed by k, expects 200 and decodes a T.
func getAs[T any](t *testing.T, k *keys.Key, path string) T {
	t.Helper()
	status, b, _ := send(t, signedReq(t, k, path))
	if status != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", path, k.Name, status, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return v
}

// wantRefused expects req to be answered status with the code name, and a
// message that says what to do.
func wantRefused(t *testing.T, what string, req *http.Request, status int, code ledger.Code) {
	t.Helper()
	got, b, e := send(t, req)
	if got != status || e == nil || e.Code != code || e.Name != code.String() {
		t.Fatalf("%s: %d %s, want %d %s", what, got, b, status, code)
	}
	if e.Message == "" {
		t.Fatalf("%s: no message", what)
	}
}

// TestConsentsAreListedOnlyToWhoNeedsThem: a patient lists their own
// consents on a signed request and nobody else's; an institution's admin
// lists those that concern it; an unsigned, wrongly signed or replayed
// request is refused, and so is anyone else.
func TestConsentsAreListedOnlyToWhoNeedsThem(t *testing.T) {
	ds := world(t) // st-mary's dataset
	p1, p2, p3 := key(t, "patient-1"), key(t, "patient-2"), key(t, "patient-3")
	stMary, rita := key(t, "st-mary-admin"), key(t, "rita-researcher")
	own := func(k *keys.Key) []ledger.Consent {
		return getAs[api.ConsentList](t, k, "/v1/patients/"+k.Address()+"/consents").Consents
	}
	n1, n2 := len(own(p1)), len(own(p2))
	do(t, "patient-1", &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeDataset, ID: ds}, Provision: ledger.Permit, Purposes: []string{"research"}})
	do(t, "patient-1", &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "northside"}, Provision: ledger.Deny, Purposes: []string{"research"}})
	do(t, "patient-2", &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "northside"}, Provision: ledger.Permit, Purposes: []string{"education"}})
	p1path := "/v1/patients/" + p1.Address() + "/consents"

	// The patient sees exactly their own, by either route.
	mine := own(p1)
	if len(mine) != n1+2 || len(own(p2)) != n2+1 {
		t.Fatalf("own consents: %d and %d, want %d and %d", len(mine), len(own(p2)), n1+2, n2+1)
	}
	page := getAs[api.ConsentPage](t, p1, "/v1/consents")
	if len(page.Consents) != len(mine) {
		t.Fatalf("GET /v1/consents as patient-1: %d consents, want their own %d", len(page.Consents), len(mine))
	}
	for _, c := range page.Consents {
		if c.Patient != p1.Address() {
			t.Fatalf("patient-1 was shown %s's consent", c.Patient)
		}
	}
	// Another patient, a researcher: refused, 403.
	wantRefused(t, "patient-2 asks for patient-1's", signedReq(t, p2, p1path), http.StatusForbidden, ledger.CodeUnauthorized)
	wantRefused(t, "a researcher asks for patient-1's", signedReq(t, rita, p1path), http.StatusForbidden, ledger.CodeUnauthorized)
	if page := getAs[api.ConsentPage](t, p3, "/v1/consents"); len(page.Consents) != len(own(p3)) {
		t.Fatalf("patient-3 was shown %d consents, not only their own", len(page.Consents))
	}
	wantRefused(t, "a researcher asks for the consent list", signedReq(t, rita, "/v1/consents"), http.StatusForbidden, ledger.CodeUnauthorized)

	// An institution's admin: the consents that concern it — on its
	// dataset, naming it, or every institution — and no other.
	for _, l := range [][]ledger.Consent{getAs[api.ConsentPage](t, stMary, "/v1/consents").Consents,
		getAs[api.ConsentList](t, stMary, p1path).Consents} {
		sawDataset := false
		for _, c := range l {
			concerns := c.Scope.Kind == ledger.ScopeAll || (c.Scope.Kind == ledger.ScopeInstitution && c.Scope.ID == "st-mary") ||
				(c.Scope.Kind == ledger.ScopeDataset && c.Scope.ID == ds)
			if !concerns {
				t.Fatalf("st-mary's admin was shown a consent that concerns it not: %+v", c)
			}
			sawDataset = sawDataset || (c.Patient == p1.Address() && c.Scope.ID == ds)
		}
		if !sawDataset {
			t.Fatal("st-mary's admin was not shown patient-1's consent on its dataset")
		}
	}

	// Unsigned: 401, with a message that says how to ask.
	unsigned, _ := http.NewRequest("GET", tn.URL+p1path, nil)
	wantRefused(t, "unsigned", unsigned, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	all, _ := http.NewRequest("GET", tn.URL+"/v1/consents", nil)
	wantRefused(t, "unsigned list", all, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	// Wrongly signed: patient-2's signature presented under patient-1's key,
	// a request signed for another path, for another chain.
	forged := signedReq(t, p2, p1path)
	forged.Header.Set(reqsig.Header, strings.Replace(forged.Header.Get(reqsig.Header), b64(p2.PubKey()), b64(p1.PubKey()), 1))
	wantRefused(t, "another's signature", forged, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	moved := signedReq(t, p1, "/v1/patients/"+p2.Address()+"/consents")
	moved.URL.Path = p1path
	wantRefused(t, "signed for another path", moved, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	other, _ := http.NewRequest("GET", tn.URL+p1path, nil)
	reqsig.SignHTTP(p1.Sign, "another-chain", other, nil, time.Now())
	wantRefused(t, "signed for another chain", other, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	old, _ := http.NewRequest("GET", tn.URL+p1path, nil)
	reqsig.SignHTTP(p1.Sign, apitest.ChainID, old, nil, time.Now().Add(-time.Hour))
	wantRefused(t, "signed an hour ago", old, http.StatusUnauthorized, ledger.CodeUnauthenticated)
	// Replayed: served once, refused the second time.
	once := signedReq(t, p1, p1path)
	if status, b, _ := send(t, once); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, b)
	}
	again, _ := http.NewRequest("GET", tn.URL+p1path, nil)
	again.Header = once.Header.Clone()
	wantRefused(t, "replayed", again, http.StatusUnauthorized, ledger.CodeReplayed)
}

// TestConsentStateProofs: a state proof of a consent key is the consent
// itself, so it is served on the same terms.
func TestConsentStateProofs(t *testing.T) {
	p1, p2 := key(t, "patient-1"), key(t, "patient-2")
	do(t, "patient-1", &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "lakeview"}, Provision: ledger.Permit, Purposes: []string{"research"}})
	mine := getAs[api.ConsentList](t, p1, "/v1/patients/"+p1.Address()+"/consents").Consents
	last := mine[len(mine)-1]
	stMary, lakeview := key(t, "st-mary-admin"), key(t, "lakeview-admin")
	for _, k := range []string{string(ledger.KeyConsent(p1.Address(), last.Seq)), string(ledger.KeyConsentCount(p1.Address()))} {
		path := "/v1/state/proof?key=" + k
		unsigned, _ := http.NewRequest("GET", tn.URL+path, nil)
		wantRefused(t, "unsigned proof of "+k, unsigned, http.StatusUnauthorized, ledger.CodeUnauthenticated)
		wantRefused(t, "patient-2's proof of "+k, signedReq(t, p2, path), http.StatusForbidden, ledger.CodeUnauthorized)
		wantRefused(t, "st-mary's proof of "+k, signedReq(t, stMary, path), http.StatusForbidden, ledger.CodeUnauthorized)
		if p := getAs[ledger.StateProof](t, p1, path); len(p.Value) == 0 {
			t.Fatalf("patient-1's own proof of %s has no value", k)
		}
	}
	// lakeview's admin may prove the consent that names lakeview.
	if p := getAs[ledger.StateProof](t, lakeview, "/v1/state/proof?key="+string(ledger.KeyConsent(p1.Address(), last.Seq))); len(p.Value) == 0 {
		t.Fatal("lakeview's proof of a consent naming it has no value")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestDerivedWalletsShareNothingOnTheLedger: one patient secret, two
// wallets (st-mary's and northside's), each registered and used — consents
// given, listed, revoked. Every key and value the ledger stores is then
// searched: no entry holds anything of both wallets (key, address or
// encryption key, in any encoding), and the secret is nowhere.
func TestDerivedWalletsShareNothingOnTheLedger(t *testing.T) {
	ds := world(t)
	secret := bytes.Repeat([]byte{0x42}, keys.PatientSecretSize)
	a, err := keys.PatientWallet(secret, "st-mary", "alice-st-mary")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.PatientWallet(secret, "northside", "alice-northside")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*keys.Key{a, b} {
		commit(t, sign(t, w, &ledger.RegisterAccount{PubKey: w.PubKey(), EncKey: w.EncPub(), Kind: ledger.KindPatient}), ledger.CodeOK)
	}
	commit(t, sign(t, a, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeDataset, ID: ds}, Provision: ledger.Permit, Purposes: []string{"research"}}), ledger.CodeOK)
	commit(t, sign(t, b, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "northside"}, Provision: ledger.Permit, Purposes: []string{"research"}}), ledger.CodeOK)
	commit(t, sign(t, b, &ledger.RevokeConsent{Seq: 0}), ledger.CodeOK)
	if got := getAs[api.ConsentList](t, a, "/v1/patients/"+a.Address()+"/consents").Consents; len(got) != 1 || got[0].Scope.ID != ds {
		t.Fatalf("wallet a's consents: %+v", got)
	}
	if got := getAs[api.ConsentList](t, b, "/v1/patients/"+b.Address()+"/consents").Consents; len(got) != 1 || got[0].Revoked == 0 {
		t.Fatalf("wallet b's consents: %+v", got)
	}

	forms := func(k *keys.Key) [][]byte {
		addr, _ := hex.DecodeString(k.Address())
		var out [][]byte
		for _, raw := range [][]byte{addr, k.PubKey(), k.EncPub()} {
			out = append(out, raw, []byte(hex.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(raw)),
				[]byte(base64.RawStdEncoding.EncodeToString(raw)), []byte(base64.URLEncoding.EncodeToString(raw)))
		}
		return out
	}
	has := func(entry []byte, forms [][]byte) bool {
		for _, f := range forms {
			if bytes.Contains(entry, f) {
				return true
			}
		}
		return false
	}
	fa, fb := forms(a), forms(b)
	secretForms := [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret))}
	var withA, withB, entries int
	err = tn.Node.Iterate(nil, func(k, v []byte) bool {
		entries++
		entry := append(append([]byte{}, k...), v...)
		inA, inB := has(entry, fa), has(entry, fb)
		if inA && inB {
			t.Errorf("ledger entry %q holds something of both wallets", k)
		}
		if has(entry, secretForms) {
			t.Errorf("ledger entry %q holds the patient secret", k)
		}
		if inA {
			withA++
		}
		if inB {
			withB++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	// The search saw both wallets' entries (accounts, consents, audit
	// entries, transaction records): it would have found a link.
	if withA < 3 || withB < 3 {
		t.Fatalf("searched %d entries: %d mention wallet a, %d wallet b; the search missed them", entries, withA, withB)
	}
	t.Logf("searched %d ledger entries: %d of wallet a, %d of wallet b, none of both", entries, withA, withB)
}
