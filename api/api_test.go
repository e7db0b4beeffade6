package api_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// The tests share one real node (see apitest) and run one after another:
// TestRejectedTxs checks that nothing changes while it runs.
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

// call makes a request and returns the status and body.
func call(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, tn.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, b
}

// getOK GETs path, expects 200 and decodes the body into a T.
func getOK[T any](t *testing.T, path string) T {
	t.Helper()
	status, b := call(t, "GET", path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return v
}

// apiErr expects an error answer with the given status and code name.
func apiErr(t *testing.T, method, path string, body []byte, status int, name string) api.Error {
	t.Helper()
	got, b := call(t, method, path, body)
	var eb struct{ Error *api.Error }
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error == nil {
		t.Fatalf("%s %s: not an error body (%v): %s", method, path, err, b)
	}
	if got != status || eb.Error.Name != name || eb.Error.Code.String() != name || eb.Error.Message == "" {
		t.Fatalf("%s %s: got %d %+v, want %d %s", method, path, got, *eb.Error, status, name)
	}
	return *eb.Error
}

func key(t *testing.T, name string) *keys.Key {
	t.Helper()
	k, err := tn.Key(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func nonce(t *testing.T, k *keys.Key) uint64 {
	t.Helper()
	status, b := call(t, "GET", "/v1/accounts/"+k.Address(), nil)
	if status == http.StatusNotFound {
		return 0
	}
	var a ledger.Account
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a.Nonce
}

func sign(t *testing.T, k *keys.Key, msg ledger.Msg) []byte {
	t.Helper()
	tx, err := ledger.SignTx(k.Sign, apitest.ChainID, nonce(t, k), msg)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// commit submits with ?wait=commit and expects code wantCode.
func commit(t *testing.T, tx []byte, wantCode ledger.Code) *api.TxSubmitted {
	t.Helper()
	status, b := call(t, "POST", "/v1/txs?wait=commit", tx)
	var res api.TxSubmitted
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || res.Result == nil || res.Hash != ledger.TxHash(tx) {
		t.Fatalf("submit: %d %s", status, b)
	}
	if res.Result.Code != wantCode {
		t.Fatalf("submit: code %s (%s), want %s", res.Result.Code, res.Result.Log, wantCode)
	}
	return &res
}

func do(t *testing.T, signer string, msg ledger.Msg) *api.TxSubmitted {
	t.Helper()
	return commit(t, sign(t, key(t, signer), msg), ledger.CodeOK)
}

var testRoot = strings.Repeat("ab", 32)

// world publishes a dataset with a policy, once, and returns its id.
func world(t *testing.T) string {
	t.Helper()
	const id = "api-diabetes"
	if status, _ := call(t, "GET", "/v1/datasets/"+id, nil); status == http.StatusOK {
		return id
	}
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: id, Version: 1, Title: "Diabetes", RecordBand: "1k-10k",
		Schema:      []ledger.Field{{Name: "age", Type: "integer"}, {Name: "hba1c", Type: "number", System: "loinc", Code: "4548-4", Unit: "%"}},
		ContentRoot: testRoot, Locator: "vault://st-mary/1"})
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: id, Version: 2, Title: "Diabetes v2", RecordBand: "1k-10k",
		Schema: []ledger.Field{{Name: "age", Type: "integer"}}, ContentRoot: testRoot, Locator: "vault://st-mary/2"})
	do(t, "st-mary-admin", &ledger.SetPolicy{Dataset: id, Policy: ledger.Policy{
		Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
		Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: 11, EpsilonPerJobMilli: 100, EpsilonTotalMilli: 1000,
		Price: 10, Split: ledger.RewardSplit{InstitutionBps: 10000}, Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn}})
	return id
}

func TestStatus(t *testing.T) {
	st := getOK[api.NodeStatus](t, "/v1/status")
	if st.ChainID != apitest.ChainID || st.Height < 1 || st.Validators != 1 || st.Commitment.Height != st.Height ||
		!bytes.Equal(st.AppHash, st.Commitment.AppHash) || st.Commitment.Verify() != nil {
		t.Fatalf("status: %+v", st)
	}
}

func TestEndpoints(t *testing.T) {
	ds := world(t)
	rita, st, p1 := key(t, "rita-researcher"), key(t, "st-mary-admin"), key(t, "patient-1")

	t.Run("accounts", func(t *testing.T) {
		a := getOK[ledger.Account](t, "/v1/accounts/"+strings.ToUpper(rita.Address()))
		if a.Address != rita.Address() || a.Kind != ledger.KindResearcher || a.Org != "acme-pharma" || !bytes.Equal(a.PubKey, rita.PubKey()) {
			t.Fatalf("account: %+v", a)
		}
	})
	t.Run("orgs", func(t *testing.T) {
		l := getOK[api.OrgList](t, "/v1/orgs")
		var ids []string
		for _, o := range l.Orgs {
			ids = append(ids, o.ID)
		}
		if got := strings.Join(ids, ","); got != "acme-pharma,consortium,lakeview,northside,st-mary" {
			t.Fatalf("orgs: %s", got)
		}
		o := getOK[ledger.Org](t, "/v1/orgs/st-mary")
		if o.Kind != ledger.OrgHospital || len(o.Admins) != 1 || o.Admins[0] != st.Address() {
			t.Fatalf("org: %+v", o)
		}
	})
	t.Run("datasets", func(t *testing.T) {
		l := getOK[api.DatasetList](t, "/v1/datasets")
		var found *api.DatasetInfo
		for i := range l.Datasets {
			if l.Datasets[i].ID == ds {
				found = &l.Datasets[i]
			}
		}
		if found == nil || found.LatestVersion != 2 || found.Latest == nil || found.Latest.Title != "Diabetes v2" ||
			found.Policy == nil || found.Policy.Price != 10 || found.Versions != nil {
			t.Fatalf("catalogue entry: %+v", found)
		}
		d := getOK[api.DatasetInfo](t, "/v1/datasets/"+ds)
		if len(d.Versions) != 2 || d.Versions[0].Version != 1 || d.Versions[1].Locator != "vault://st-mary/2" || d.Org != "st-mary" || !d.HasPolicy {
			t.Fatalf("dataset: %+v", d)
		}
		v := getOK[ledger.DatasetVersion](t, "/v1/datasets/"+ds+"/versions/1")
		if v.Title != "Diabetes" || len(v.Schema) != 2 || v.Schema[1].Code != "4548-4" || v.PublishedBy != st.Address() {
			t.Fatalf("version: %+v", v)
		}
		p := getOK[ledger.Policy](t, "/v1/datasets/"+ds+"/policy")
		if p.ConsentModel != ledger.ConsentOptIn || p.SetHeight == 0 {
			t.Fatalf("policy: %+v", p)
		}
	})
	t.Run("consents", func(t *testing.T) {
		mine := "/v1/patients/" + p1.Address() + "/consents"
		before := getAs[api.ConsentList](t, p1, mine)
		do(t, "patient-1", &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeDataset, ID: ds}, Provision: ledger.Permit, Purposes: []string{"research"}})
		l := getAs[api.ConsentList](t, p1, mine)
		n := len(before.Consents)
		if l.Patient != p1.Address() || len(l.Consents) != n+1 || l.Consents[n].Seq != uint64(n) || l.Consents[n].Scope.ID != ds {
			t.Fatalf("consents: %+v", l)
		}
		do(t, "patient-1", &ledger.RevokeConsent{Seq: uint64(n)})
		if l := getAs[api.ConsentList](t, p1, mine); l.Consents[n].Revoked == 0 {
			t.Fatalf("not revoked: %+v", l.Consents[n])
		}
		// A wallet with no account and no consents, asking for its own.
		stranger := keys.FromSeed("stranger", [32]byte{9})
		none := getAs[api.ConsentList](t, stranger, "/v1/patients/"+stranger.Address()+"/consents")
		if none.Consents == nil || len(none.Consents) != 0 {
			t.Fatalf("no consents should be an empty list: %+v", none)
		}
	})
	t.Run("access", func(t *testing.T) {
		res := do(t, "rita-researcher", &ledger.RequestAccess{Dataset: ds, Purpose: "research"})
		l := getOK[api.AccessRequestList](t, "/v1/access-requests?dataset="+ds+"&requester="+rita.Address())
		if len(l.AccessRequests) == 0 {
			t.Fatal("no access requests")
		}
		r := l.AccessRequests[len(l.AccessRequests)-1]
		if r.Created != res.Result.Height || r.Status != ledger.AccessPending {
			t.Fatalf("request: %+v", r)
		}
		do(t, "st-mary-admin", &ledger.DecideAccess{Request: r.ID, Grant: true})
		got := getOK[ledger.AccessRequest](t, fmt.Sprintf("/v1/access-requests/%d", r.ID))
		if got.Status != ledger.AccessGranted || got.DecidedBy != st.Address() {
			t.Fatalf("decided: %+v", got)
		}
		if l := getOK[api.AccessRequestList](t, "/v1/access-requests?status=pending&dataset="+ds); len(l.AccessRequests) != 0 {
			t.Fatalf("pending: %+v", l)
		}
		if l := getOK[api.AccessRequestList](t, "/v1/access-requests?dataset=no-such"); l.AccessRequests == nil || len(l.AccessRequests) != 0 {
			t.Fatalf("unknown dataset: %+v", l)
		}
	})
	t.Run("txs", func(t *testing.T) {
		res := do(t, "lakeview-admin", &ledger.Transfer{To: rita.Address(), Amount: 3})
		rec := getOK[ledger.TxRecord](t, "/v1/txs/"+strings.ToUpper(res.Hash))
		if !reflect.DeepEqual(*res.Result, rec) {
			t.Fatalf("tx record %+v, submit said %+v", rec, *res.Result)
		}
		// Without wait the answer is 202 with the hash only.
		tx := sign(t, key(t, "lakeview-admin"), &ledger.Transfer{To: rita.Address(), Amount: 1})
		status, b := call(t, "POST", "/v1/txs", tx)
		var sub api.TxSubmitted
		if json.Unmarshal(b, &sub); status != http.StatusAccepted || sub.Hash != ledger.TxHash(tx) || sub.Result != nil {
			t.Fatalf("no wait: %d %s", status, b)
		}
		// Submitting the same bytes again is idempotent and can wait for them.
		commit(t, tx, ledger.CodeOK)
	})
	t.Run("commitments", func(t *testing.T) {
		for _, h := range []int64{0, 1, tn.Height()} {
			c := getOK[ledger.Commitment](t, fmt.Sprintf("/v1/commitments/%d", h))
			if c.Height != h || c.Verify() != nil {
				t.Fatalf("commitment %d: %+v", h, c)
			}
		}
	})
	t.Run("openapi", func(t *testing.T) {
		doc := getOK[map[string]any](t, "/v1/openapi.json")
		if doc["openapi"] != "3.1.0" {
			t.Fatalf("openapi: %v", doc["openapi"])
		}
	})
}

// header fetches and checks the signed header at h, returning its app hash.
func header(t *testing.T, h int64) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tn.Height() < h && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sh := getOK[api.SignedHeader](t, fmt.Sprintf("/v1/headers/%d", h))
	var shdr cmttypes.SignedHeader
	var vals cmttypes.ValidatorSet
	if err := cmtjson.Unmarshal(sh.SignedHeader, &shdr); err != nil {
		t.Fatal(err)
	}
	if err := cmtjson.Unmarshal(sh.Validators, &vals); err != nil {
		t.Fatal(err)
	}
	if err := shdr.ValidateBasic(apitest.ChainID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vals.Hash(), shdr.ValidatorsHash) || shdr.Height != h || sh.Height != h {
		t.Fatalf("header %d: validators or height do not match", h)
	}
	if err := vals.VerifyCommitLight(apitest.ChainID, shdr.Commit.BlockID, h, shdr.Commit); err != nil {
		t.Fatal(err)
	}
	return shdr.AppHash
}

func TestStateProof(t *testing.T) {
	rita := key(t, "rita-researcher")
	for _, k := range []string{string(ledger.KeyAccount(rita.Address())), string(ledger.KeyAccount(strings.Repeat("0", 40)))} {
		p := getOK[ledger.StateProof](t, "/v1/state/proof?key="+k)
		if err := p.Verify(); err != nil {
			t.Fatal(err)
		}
		present := strings.Contains(k, rita.Address())
		if (p.Value != nil) != present {
			t.Fatalf("%s: value %q", k, p.Value)
		}
		if present {
			var a ledger.Account
			if err := ledger.DecodeState(p.Value, &a); err != nil || a.Address != rita.Address() {
				t.Fatalf("value: %s", p.Value)
			}
		}
		if got := header(t, p.Commitment.Height+1); !bytes.Equal(got, p.Commitment.AppHash) {
			t.Fatalf("header %d app hash %x, commitment %x", p.Commitment.Height+1, got, []byte(p.Commitment.AppHash))
		}
	}
}

func TestAudit(t *testing.T) {
	res := do(t, "northside-admin", &ledger.Transfer{To: key(t, "patient-2").Address(), Amount: 1})
	h, idx := res.Result.Height, res.Result.AuditIndex

	e := getOK[api.AuditEntry](t, fmt.Sprintf("/v1/audit/entries/%d", idx))
	if e.Index != idx || e.Entry.TxHash != res.Hash || e.Entry.Type != ledger.TxTransfer || !bytes.Equal(e.LeafHash, audit.LeafHash(e.Raw)) {
		t.Fatalf("entry: %+v", e)
	}

	for _, q := range []string{fmt.Sprintf("&height=%d", h), ""} {
		p := getOK[api.AuditInclusion](t, fmt.Sprintf("/v1/audit/inclusion?index=%d%s", idx, q))
		c := p.Commitment
		if p.Index != idx || p.Height != c.Height || p.Size != c.AuditSize || (q != "" && c.Height != h) || c.Verify() != nil {
			t.Fatalf("inclusion: %+v", p)
		}
		if err := audit.VerifyInclusion(p.Raw, idx, c.AuditSize, hexes(p.Proof), c.AuditRoot); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(header(t, c.Height+1), c.AppHash) {
			t.Fatal("inclusion commitment's app hash is not the header's")
		}
	}

	later := tn.Height()
	p := getOK[api.AuditConsistency](t, fmt.Sprintf("/v1/audit/consistency?from=%d&to=%d", h-1, later))
	if p.From.Height != h-1 || p.To.Height != later || p.From.AuditSize > idx || p.To.AuditSize <= idx {
		t.Fatalf("consistency: %+v", p)
	}
	if err := audit.VerifyConsistency(p.From.AuditSize, p.To.AuditSize, hexes(p.Proof), p.From.AuditRoot, p.To.AuditRoot); err != nil {
		t.Fatal(err)
	}
	if len(p.Proof) > 0 {
		p.Proof[0][0] ^= 1
		if err := audit.VerifyConsistency(p.From.AuditSize, p.To.AuditSize, hexes(p.Proof), p.From.AuditRoot, p.To.AuditRoot); err == nil {
			t.Fatal("tampered consistency proof verified")
		}
	}
	g := getOK[api.AuditConsistency](t, fmt.Sprintf("/v1/audit/consistency?from=0&to=%d", later))
	if g.From.AuditSize != 0 || len(g.Proof) != 0 {
		t.Fatalf("from genesis: %+v", g)
	}
}

func hexes(hs []ledger.HexBytes) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// rawTx signs an arbitrary payload the way ledger.SignTx does.
func rawTx(t *testing.T, k ed25519.PrivateKey, chainID string, typ ledger.TxType, nonce uint64, msg string) []byte {
	t.Helper()
	payload, err := json.Marshal(ledger.Payload{ChainID: chainID, Type: typ, Signer: k.Public().(ed25519.PublicKey), Nonce: nonce, Msg: json.RawMessage(msg)})
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(k, ledger.SignBytes(chainID, typ, payload))
	b, err := json.Marshal(map[string]any{"payload": json.RawMessage(payload), "signature": sig})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRejectedTxs sends transactions the node must refuse, each with the
// ledger code that says why, and checks that none of them changes anything.
func TestRejectedTxs(t *testing.T) {
	lake, rita := key(t, "lakeview-admin"), key(t, "rita-researcher")
	transfer := &ledger.Transfer{To: rita.Address(), Amount: 1}
	committed := sign(t, lake, transfer)
	commit(t, committed, ledger.CodeOK)

	// The state the rejected transactions must leave alone. Empty blocks
	// do not change the app hash.
	st0 := getOK[api.NodeStatus](t, "/v1/status")
	n0 := nonce(t, lake)

	var env struct {
		Payload   json.RawMessage `json:"payload"`
		Signature []byte          `json:"signature"`
	}
	if err := json.Unmarshal(sign(t, lake, transfer), &env); err != nil {
		t.Fatal(err)
	}
	env.Signature[0] ^= 1
	badSig, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	// A new transaction signed with the nonce the committed one used.
	reused, err := ledger.SignTx(lake.Sign, apitest.ChainID, n0-1, &ledger.Transfer{To: rita.Address(), Amount: 2})
	if err != nil {
		t.Fatal(err)
	}
	stranger := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	cases := []struct {
		name   string
		body   []byte
		status int
		code   ledger.Code
		msg    string
	}{
		{"malformed JSON", []byte(`{"payload":`), 400, ledger.CodeMalformed, "envelope"},
		{"not an object", []byte(`[1,2]`), 400, ledger.CodeMalformed, "envelope"},
		{"empty", nil, 400, ledger.CodeMalformed, "envelope"},
		{"unknown field", []byte(`{"payload":{},"signature":"","extra":1}`), 400, ledger.CodeMalformed, "unknown field"},
		{"bad signature", badSig, 403, ledger.CodeBadSignature, "does not verify"},
		{"wrong chain", rawTx(t, lake.Sign, "other-chain", ledger.TxTransfer, n0, `{"to":"`+rita.Address()+`","amount":1}`), 403, ledger.CodeWrongChain, "other-chain"},
		{"unknown type", rawTx(t, lake.Sign, apitest.ChainID, "mint", n0, `{"amount":1}`), 400, ledger.CodeUnknownType, `"mint"`},
		{"oversize tx", rawTx(t, lake.Sign, apitest.ChainID, ledger.TxTransfer, n0, `{"to":"`+strings.Repeat(" ", ledger.MaxTxBytes)+`"}`), 413, ledger.CodeOversize, "limit"},
		{"oversize body", bytes.Repeat([]byte(" "), ledger.MaxTxBytes+2048), 413, ledger.CodeOversize, "exceeds"},
		{"replayed nonce", reused, 409, ledger.CodeBadNonce, "already used"},
		{"replayed tx", committed, 409, ledger.CodeBadNonce, "this exact transaction was committed"},
		{"unknown signer", rawTx(t, stranger, apitest.ChainID, ledger.TxTransfer, 0, `{"to":"`+rita.Address()+`","amount":1}`), 404, ledger.CodeUnknownAccount, "no account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := apiErr(t, "POST", "/v1/txs?wait=commit", c.body, c.status, c.code.String())
			if e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("got %+v, want code %s and %q in the message", e, c.code, c.msg)
			}
		})
	}
	apiErr(t, "POST", "/v1/txs?wait=later", sign(t, lake, transfer), 400, "invalid_field")

	// Give a block or two a chance to include anything that slipped through.
	if err := tn.WaitHeight(t.Context(), tn.Height()+2); err != nil {
		t.Fatal(err)
	}
	st1 := getOK[api.NodeStatus](t, "/v1/status")
	if !bytes.Equal(st0.AppHash, st1.AppHash) || st0.Commitment.AuditSize != st1.Commitment.AuditSize {
		t.Fatalf("state changed: app hash %x -> %x, audit size %d -> %d", []byte(st0.AppHash), []byte(st1.AppHash), st0.Commitment.AuditSize, st1.Commitment.AuditSize)
	}
	if n1 := nonce(t, lake); n1 != n0 {
		t.Fatalf("nonce changed: %d -> %d", n0, n1)
	}
}

func TestBadParams(t *testing.T) {
	for _, c := range []struct{ path, param string }{
		{"/v1/accounts/xyz", "address"},
		{"/v1/accounts/" + strings.Repeat("g", 40), "address"},
		{"/v1/patients/1234/consents", "address"},
		{"/v1/txs/abc", "hash"},
		{"/v1/datasets/x/versions/one", "version"},
		{"/v1/datasets/x/versions/0", "version"},
		{"/v1/access-requests/-1", "id"},
		{"/v1/access-requests?requester=bob", "requester"},
		{"/v1/access-requests?status=maybe", "status"},
		{"/v1/commitments/abc", "height"},
		{"/v1/commitments/-1", "height"},
		{"/v1/headers/0", "height"},
		{"/v1/headers/x", "height"},
		{"/v1/audit/entries/x", "index"},
		{"/v1/audit/inclusion", "index"},
		{"/v1/audit/inclusion?index=a", "index"},
		{"/v1/audit/inclusion?index=0&height=-2", "height"},
		{"/v1/audit/consistency?to=3", "from"},
		{"/v1/audit/consistency?from=1", "to"},
		{"/v1/audit/consistency?from=5&to=2", "from"},
		{"/v1/state/proof", "key"},
		{"/v1/state/proof?key=m/last", "key"},
		{"/v1/orgs/a%2Fb", "id"},
		{"/v1/datasets/a%2Fb/policy", "id"},
	} {
		e := apiErr(t, "GET", c.path, nil, 400, "invalid_field")
		if e.Param != c.param || !strings.HasPrefix(e.Message, c.param+": ") {
			t.Errorf("GET %s: %+v, want param %s", c.path, e, c.param)
		}
	}
}

func TestNotFound(t *testing.T) {
	far := tn.Height() + 1000
	for _, path := range []string{
		"/v1/accounts/" + strings.Repeat("0", 40),
		"/v1/orgs/nobody",
		"/v1/datasets/nothing",
		"/v1/datasets/nothing/versions/1",
		"/v1/datasets/nothing/policy",
		"/v1/access-requests/999999",
		"/v1/txs/" + strings.Repeat("0", 64),
		fmt.Sprintf("/v1/commitments/%d", far),
		fmt.Sprintf("/v1/headers/%d", far),
		"/v1/audit/entries/999999",
		"/v1/audit/inclusion?index=999999",
		fmt.Sprintf("/v1/audit/inclusion?index=0&height=%d", far),
		fmt.Sprintf("/v1/audit/consistency?from=0&to=%d", far),
		"/v1/nothing",
		"/v1/",
		"/v1/status/extra",
	} {
		apiErr(t, "GET", path, nil, 404, "not_found")
	}
	apiErr(t, "DELETE", "/v1/status", nil, 404, "not_found")
	apiErr(t, "POST", "/v1/status", nil, 404, "not_found")
	ds := world(t)
	apiErr(t, "GET", "/v1/datasets/"+ds+"/versions/3", nil, 404, "not_found")
}
