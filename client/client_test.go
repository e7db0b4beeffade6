package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/reqsig"
)

var tn *apitest.Node

func TestMain(m *testing.M) {
	var err error
	if tn, err = apitest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := tn.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
	}
	os.Exit(code)
}

func key(t *testing.T, name string) *keys.Key {
	t.Helper()
	k, err := tn.Key(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// apiError asserts err is a *client.Error with the given code name.
func apiError(t *testing.T, err error, name string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Name != name {
		t.Fatalf("got %v (%T), want a client.Error %s", err, err, name)
	}
	return e
}

func TestNew(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://example.org/":    "http://example.org",
		"https://node.example:1": "https://node.example:1",
	} {
		if got := client.New(in).BaseURL(); got != want {
			t.Errorf("New(%q): %q, want %q", in, got, want)
		}
	}
}

func TestQueriesAndTransactions(t *testing.T) {
	ctx := context.Background()
	c := client.New(tn.URL)

	st, err := c.Status(ctx)
	if err != nil || st.ChainID != apitest.ChainID {
		t.Fatalf("status: %+v %v", st, err)
	}
	if doc, err := c.OpenAPI(ctx); err != nil || !strings.Contains(string(doc), `"openapi"`) {
		t.Fatalf("openapi: %v", err)
	}
	if orgs, err := c.Orgs(ctx); err != nil || len(orgs) != 5 {
		t.Fatalf("orgs: %v %v", orgs, err)
	}
	if o, err := c.Org(ctx, "lakeview"); err != nil || o.Kind != ledger.OrgLab {
		t.Fatalf("org: %+v %v", o, err)
	}

	// A patient registers their own new key: nonce 0, no account yet.
	pat, err := keys.Generate("carol")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Account(ctx, pat.Address())
	if e := apiError(t, err, "not_found"); e.Status != 404 || !client.IsNotFound(err) {
		t.Fatalf("missing account: %+v", e)
	}
	res, err := c.SignAndSubmit(ctx, pat, &ledger.RegisterAccount{PubKey: pat.PubKey(), EncKey: pat.EncPub(), Kind: ledger.KindPatient}, true)
	if err != nil || client.ResultError(res) != nil {
		t.Fatalf("register: %+v %v", res, err)
	}
	a, err := c.Account(ctx, pat.Address())
	if err != nil || a.Kind != ledger.KindPatient || a.Nonce != 1 {
		t.Fatalf("account: %+v %v", a, err)
	}
	if rec, err := c.Tx(ctx, res.Hash); err != nil || !reflect.DeepEqual(*rec, *res.Result) {
		t.Fatalf("tx: %+v %v", rec, err)
	}

	// An existing account signs with its next nonce, twice in a row.
	lake := key(t, "lakeview-admin")
	for i := range 2 {
		res, err := c.SignAndSubmit(ctx, lake, &ledger.Transfer{To: pat.Address(), Amount: 5}, true)
		if err != nil || client.ResultError(res) != nil {
			t.Fatalf("transfer %d: %+v %v", i, res, err)
		}
	}
	if a, _ := c.Account(ctx, pat.Address()); a.Balance != 10 {
		t.Fatalf("balance %d, want 10", a.Balance)
	}

	// A committed failure is a result, and ResultError makes it an error.
	res, err = c.SignAndSubmit(ctx, pat, &ledger.Transfer{To: lake.Address(), Amount: 1_000}, true)
	if err != nil {
		t.Fatal(err)
	}
	e := apiError(t, client.ResultError(res), "insufficient_funds")
	if e.Code != uint32(ledger.CodeInsufficientFund) || !strings.Contains(e.Message, res.Hash) {
		t.Fatalf("result error: %+v", e)
	}

	// A refused transaction is an error with the code's name.
	tx, err := c.Sign(ctx, lake, &ledger.Transfer{To: pat.Address(), Amount: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, tx, true); err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(ctx, tx, true)
	if e := apiError(t, err, "bad_nonce"); e.Status != 409 || e.Code != uint32(ledger.CodeBadNonce) {
		t.Fatalf("replay: %+v", e)
	}
	_, err = c.Submit(ctx, []byte("{"), false)
	apiError(t, err, "malformed")

	// A bad parameter names itself.
	_, err = c.Account(ctx, "nope")
	if e := apiError(t, err, "invalid_field"); e.Param != "address" || e.Status != 400 {
		t.Fatalf("bad param: %+v", e)
	}

	// Datasets, consents and access requests.
	st1 := key(t, "st-mary-admin")
	mustOK := func(k *keys.Key, m ledger.Msg) *ledger.TxRecord {
		t.Helper()
		res, err := c.SignAndSubmit(ctx, k, m, true)
		if err == nil {
			err = client.ResultError(res)
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		return res.Result
	}
	mustOK(st1, &ledger.RegisterDataset{ID: "client-ds", Version: 1, Title: "T", RecordBand: "<100", Schema: []ledger.Field{{Name: "x", Type: "number"}},
		ContentRoot: strings.Repeat("cd", 32), Locator: "vault://x"})
	mustOK(st1, &ledger.SetPolicy{Dataset: "client-ds", Policy: ledger.Policy{Purposes: []string{"research"}, Requesters: ledger.Requesters{Anyone: true},
		Analyses: ledger.Analyses{Builtins: []string{"descriptive"}}, MinCohort: 20, EpsilonPerJobMilli: 1, EpsilonTotalMilli: 2,
		Split: ledger.RewardSplit{InstitutionBps: 5000, PatientPoolBps: 5000}, Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}})
	if ds, err := c.Datasets(ctx); err != nil || len(ds) != 1 || ds[0].Policy == nil || ds[0].Latest.Title != "T" {
		t.Fatalf("datasets: %+v %v", ds, err)
	}
	if d, err := c.Dataset(ctx, "client-ds"); err != nil || len(d.Versions) != 1 {
		t.Fatalf("dataset: %+v %v", d, err)
	}
	if v, err := c.DatasetVersion(ctx, "client-ds", 1); err != nil || v.Locator != "vault://x" {
		t.Fatalf("version: %+v %v", v, err)
	}
	if p, err := c.Policy(ctx, "client-ds"); err != nil || p.MinCohort != 20 {
		t.Fatalf("policy: %+v %v", p, err)
	}
	mustOK(pat, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Deny, Purposes: []string{"commercial_research"}})
	if cs, err := c.Consents(ctx, pat.Address(), pat); err != nil || len(cs) != 1 || cs[0].Provision != ledger.Deny {
		t.Fatalf("consents: %+v %v", cs, err)
	}
	mustOK(pat, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Permit, Purposes: []string{"research"}})
	// Every consent that concerns st-mary (scope all concerns every
	// institution), read by its admin: each patient's are a run, equal to
	// the patient's own read; paging with limit=1 gives the same list.
	all, err := c.AllConsents(ctx, st1)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := c.Consents(ctx, pat.Address(), pat)
	if err != nil || len(mine) != 2 {
		t.Fatalf("consents: %+v %v", mine, err)
	}
	i := slices.IndexFunc(all, func(x ledger.Consent) bool { return x.Patient == pat.Address() })
	if i < 0 || len(all) < i+2 || !reflect.DeepEqual(all[i:i+2], mine) || (len(all) > i+2 && all[i+2].Patient == pat.Address()) {
		t.Fatalf("all consents %+v, patient's %+v", all, mine)
	}
	var paged []ledger.Consent
	for after := ""; ; {
		req, _ := http.NewRequest("GET", c.BaseURL()+"/v1/consents?limit=1&after="+url.QueryEscape(after), nil)
		if err := reqsig.SignHTTP(st1.Sign, apitest.ChainID, req, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pg api.ConsentPage
		err = json.NewDecoder(resp.Body).Decode(&pg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(pg.Consents) > 1 {
			t.Fatalf("page after %q: %d %+v %v", after, resp.StatusCode, pg, err)
		}
		paged = append(paged, pg.Consents...)
		if after = pg.Next; after == "" {
			break
		}
	}
	if !reflect.DeepEqual(paged, all) {
		t.Fatalf("paged %+v, all %+v", paged, all)
	}
	rita := key(t, "rita-researcher")
	rec := mustOK(rita, &ledger.RequestAccess{Dataset: "client-ds", Purpose: "research"})
	rs, err := c.AccessRequests(ctx, client.AccessFilter{Dataset: "client-ds", Requester: rita.Address(), Status: ledger.AccessPending})
	if err != nil || len(rs) != 1 || rs[0].Created != rec.Height {
		t.Fatalf("access requests: %+v %v", rs, err)
	}
	mustOK(st1, &ledger.DecideAccess{Request: rs[0].ID})
	if r, err := c.AccessRequest(ctx, rs[0].ID); err != nil || r.Status != ledger.AccessDenied {
		t.Fatalf("access request: %+v %v", r, err)
	}
	if com, err := c.Commitment(ctx, rec.Height); err != nil || com.Height != rec.Height {
		t.Fatalf("commitment: %+v %v", com, err)
	}
	if e, err := c.AuditEntry(ctx, rec.AuditIndex); err != nil || e.Entry.Type != ledger.TxRequestAccess {
		t.Fatalf("audit entry: %+v %v", e, err)
	}
}

// trusted pins the test network's genesis validators.
func trusted(t *testing.T, c *client.Client) *client.Client {
	t.Helper()
	chainID, vals, err := client.ValidatorSet(filepath.Join(tn.Home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	c.ChainID, c.Trusted = chainID, vals
	return c
}
