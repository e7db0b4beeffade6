package reqsig_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/reqsig"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

// vector is one published test vector: a key, a request, the message that
// is signed and the header that results (ed25519 signatures are
// deterministic, so the header is too).
type vector struct {
	Name    string `json:"name"`
	Seed    string `json:"ed25519_seed"` // hex
	ChainID string `json:"chain_id"`
	Method  string `json:"method"`
	Host    string `json:"host"`
	Target  string `json:"target"`
	Time    int64  `json:"time"`
	Nonce   string `json:"nonce"`
	Body    string `json:"body,omitempty"`
	Message string `json:"message"`
	Header  string `json:"authorization"`
}

func seed(b byte) []byte {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func makeVectors(t *testing.T) []vector {
	in := []vector{
		{Name: "patient lists own consents", Seed: hex.EncodeToString(seed(1)), ChainID: "medchain-dev", Method: "GET", Host: "127.0.0.1:26657",
			Target: "/v1/patients/0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c/consents", Time: 1_800_000_000, Nonce: "00112233445566778899aabbccddeeff"},
		{Name: "worker pages every consent", Seed: hex.EncodeToString(seed(7)), ChainID: "medchain-test", Method: "GET", Host: "node.example:443",
			Target: "/v1/consents?after=s%2Fconsent%2Fab%2F00&limit=100", Time: 1_800_000_123, Nonce: "ffeeddccbbaa99887766554433221100"},
		{Name: "a body is bound by its hash", Seed: hex.EncodeToString(seed(9)), ChainID: "c", Method: "POST", Host: "h",
			Target: "/v1/x", Time: 1, Nonce: "0123456789abcdef0123456789abcdef", Body: `{"a":1}`},
	}
	for i := range in {
		v := &in[i]
		s, _ := hex.DecodeString(v.Seed)
		r := &reqsig.Request{ChainID: v.ChainID, Method: v.Method, Host: v.Host, Target: v.Target, Time: v.Time, Nonce: v.Nonce, Body: []byte(v.Body)}
		msg, err := reqsig.Message(r)
		if err != nil {
			t.Fatal(err)
		}
		v.Message = string(msg)
		if v.Header, err = reqsig.Sign(ed25519.NewKeyFromSeed(s), r); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// TestVectors holds Message and Sign to the published vectors (which the
// web app's signer is checked against too, web/sign_test.go).
func TestVectors(t *testing.T) {
	got := makeVectors(t)
	path := "testdata/vectors.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []vector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors, want %d (go test ./reqsig -update rewrites them)", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s:\n got %+v\nwant %+v", want[i].Name, got[i], want[i])
		}
		a, err := reqsig.Parse(want[i].Header)
		if err != nil {
			t.Fatalf("%s: %v", want[i].Name, err)
		}
		w := want[i]
		if err := reqsig.Verify(a, reqsig.Request{ChainID: w.ChainID, Method: w.Method, Host: w.Host, Target: w.Target, Body: []byte(w.Body)}); err != nil {
			t.Errorf("%s: %v", w.Name, err)
		}
	}
}

// guarded serves 200 to a request the Guard accepts, else 401 with the
// error's kind.
func guarded(g *reqsig.Guard) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pub, err := g.Check(r, nil)
		if err != nil {
			var e *reqsig.Error
			errors.As(err, &e)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"kind": e.Kind, "msg": e.Msg})
			return
		}
		w.Write([]byte(hex.EncodeToString(pub)))
	}))
}

func send(t *testing.T, req *http.Request) (int, reqsig.Kind) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Kind reqsig.Kind }
	if resp.StatusCode != 200 {
		json.NewDecoder(resp.Body).Decode(&body)
	}
	return resp.StatusCode, body.Kind
}

// TestGuard: a request is served only when signed by the key it names, for
// this chain, host, method and target, within the clock window, once.
func TestGuard(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := &reqsig.Guard{ChainID: "chain-a", Now: func() time.Time { return now }}
	srv := guarded(g)
	defer srv.Close()
	key := ed25519.NewKeyFromSeed(seed(3))
	get := func(path string) *http.Request {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		return req
	}
	signed := func(path, chain string, at time.Time) *http.Request {
		req := get(path)
		if err := reqsig.SignHTTP(key, chain, req, nil, at); err != nil {
			t.Fatal(err)
		}
		return req
	}

	if code, kind := send(t, get("/v1/consents")); code != 401 || kind != reqsig.Missing {
		t.Errorf("unsigned: %d kind %d, want 401 Missing", code, kind)
	}
	ok := signed("/v1/consents", "chain-a", now)
	if code, _ := send(t, ok); code != 200 {
		t.Fatalf("signed: %d", code)
	}
	if code, kind := send(t, ok.Clone(ok.Context())); code != 401 || kind != reqsig.Replayed {
		t.Errorf("replayed: %d kind %d, want 401 Replayed", code, kind)
	}
	if code, kind := send(t, signed("/v1/consents", "chain-b", now)); code != 401 || kind != reqsig.BadSignature {
		t.Errorf("other chain: %d kind %d, want BadSignature", code, kind)
	}
	if code, kind := send(t, signed("/v1/consents", "chain-a", now.Add(-reqsig.Skew-time.Second))); code != 401 || kind != reqsig.Stale {
		t.Errorf("stale: %d kind %d, want Stale", code, kind)
	}
	if code, kind := send(t, signed("/v1/consents", "chain-a", now.Add(reqsig.Skew+time.Second))); code != 401 || kind != reqsig.Stale {
		t.Errorf("from the future: %d kind %d, want Stale", code, kind)
	}

	// The signature answers one question: moved to another path or query,
	// or presented with another key, it does not verify.
	moved := signed("/v1/patients/aa/consents", "chain-a", now)
	moved.URL.Path = "/v1/patients/bb/consents"
	if code, kind := send(t, moved); code != 401 || kind != reqsig.BadSignature {
		t.Errorf("other path: %d kind %d, want BadSignature", code, kind)
	}
	requery := signed("/v1/consents?limit=1", "chain-a", now)
	requery.URL.RawQuery = "limit=2"
	if code, kind := send(t, requery); code != 401 || kind != reqsig.BadSignature {
		t.Errorf("other query: %d kind %d, want BadSignature", code, kind)
	}
	other := ed25519.NewKeyFromSeed(seed(4))
	stolen := signed("/v1/consents", "chain-a", now)
	stolen.Header.Set(reqsig.Header, strings.Replace(stolen.Header.Get(reqsig.Header),
		"key="+b64(key.Public().(ed25519.PublicKey)), "key="+b64(other.Public().(ed25519.PublicKey)), 1))
	if code, kind := send(t, stolen); code != 401 || kind != reqsig.BadSignature {
		t.Errorf("another key named: %d kind %d, want BadSignature", code, kind)
	}
	// Another node (host) of the same chain does not accept it either.
	elsewhere := signed("/v1/consents", "chain-a", now)
	elsewhere.Host = "other-node.example:8080"
	if code, kind := send(t, elsewhere); code != 401 || kind != reqsig.BadSignature {
		t.Errorf("other host: %d kind %d, want BadSignature", code, kind)
	}
	for _, h := range []string{"Basic dXNlcjpwdw==", "MedchainSig key=AAAA", "MedchainSig key=a,time=1,nonce=2,sig=3,extra=4", "MedchainSig time=1,time=2"} {
		req := get("/v1/consents")
		req.Header.Set(reqsig.Header, h)
		if code, kind := send(t, req); code != 401 || (kind != reqsig.Malformed && kind != reqsig.Missing) {
			t.Errorf("%q: %d kind %d, want Malformed or Missing", h, code, kind)
		}
	}
}

func b64(b []byte) string { return encode(b) }

// TestGuardFull: a full memory of nonces refuses new requests instead of
// forgetting nonces that could then be replayed, and makes room as they
// expire.
func TestGuardFull(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := &reqsig.Guard{ChainID: "c", Now: func() time.Time { return now }, Max: 2}
	srv := guarded(g)
	defer srv.Close()
	key := ed25519.NewKeyFromSeed(seed(5))
	sign := func() *http.Request {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/consents", nil)
		if err := reqsig.SignHTTP(key, "c", req, nil, now); err != nil {
			t.Fatal(err)
		}
		return req
	}
	for i := range 2 {
		if code, _ := send(t, sign()); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if code, kind := send(t, sign()); code != 401 || kind != reqsig.Busy {
		t.Errorf("full: %d kind %d, want Busy", code, kind)
	}
	now = now.Add(2*reqsig.Skew + time.Second)
	if code, _ := send(t, sign()); code != 200 {
		t.Errorf("after the window: %d, want 200", code)
	}
}

func encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
