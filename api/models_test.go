package api_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zk"
)

// apiModel is a committed test model and what proving with it needs.
type apiModel struct {
	id      string
	c       zk.Commitment
	opening zk.Opening
	edges   []int64
}

// prove proves the bucket of real-valued inputs for request.
func (m *apiModel) prove(t *testing.T, request string, values ...float64) (x []int64, bucket uint32, proof []byte) {
	t.Helper()
	x, err := zk.QuantizeInputs(values, m.opening.Scale)
	if err != nil {
		t.Fatal(err)
	}
	score, err := m.opening.Score(x)
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := zk.BucketsFromEdges(m.edges)
	if err != nil {
		t.Fatal(err)
	}
	i, ok := zk.FindBucket(buckets, score)
	if !ok {
		t.Fatalf("score %d in no bucket", score)
	}
	params, err := zk.NewParams(len(x))
	if err != nil {
		t.Fatal(err)
	}
	p, err := zk.Prove(params, m.opening, m.c, x, buckets[i], zk.NewContext(apitest.ChainID, m.id, request), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if proof, err = p.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	return x, uint32(i), proof
}

func verifyBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestModels registers a committed model, verifies prediction proofs off
// the ledger through the API (nothing recorded), records a verified one and
// attests another, and reads them back.
func TestModels(t *testing.T) {
	north := key(t, "northside-admin")
	m := &apiModel{id: "api-cvd"}
	var err error
	m.c, m.opening, err = zk.Commit(zk.Model{Weights: []float64{0.05, 0.02, 0.7}, Intercept: -7, Scale: zk.DefaultScale}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if m.edges, err = zk.EdgesFromProbabilities([]float64{0.05, 0.1, 0.2}, zk.DefaultScale); err != nil {
		t.Fatal(err)
	}
	labels := []string{"<5%", "5-10%", "10-20%", ">=20%"}
	features := []ledger.ModelFeature{{Name: "age", Unit: "a"}, {Name: "sbp", System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}, {Name: "smoker"}}
	do(t, "northside-admin", &ledger.RegisterModel{ID: m.id, Commitment: m.c.String(), Features: features, Scale: zk.DefaultScale,
		BucketEdges: m.edges, BucketLabels: labels, Description: "test model"})

	t.Run("read", func(t *testing.T) {
		got := getOK[ledger.Model](t, "/v1/models/"+m.id)
		if got.ID != m.id || got.Owner != north.Address() || got.Org != "northside" || got.Commitment != m.c.String() ||
			!slices.Equal(got.BucketEdges, m.edges) || !slices.Equal(got.BucketLabels, labels) || len(got.Features) != 3 ||
			got.Features[1] != features[1] || got.Scale != zk.DefaultScale || got.Job != nil || got.Registered == 0 || got.Predictions != 0 {
			t.Fatalf("model: %+v", got)
		}
		has := func(q string) bool {
			return slices.ContainsFunc(getOK[api.ModelList](t, "/v1/models"+q).Models, func(x ledger.Model) bool { return x.ID == m.id })
		}
		for q, want := range map[string]bool{
			"": true, "?owner=" + north.Address(): true, "?owner=" + strings.ToUpper(north.Address()): true, "?org=northside": true,
			"?org=st-mary": false, "?owner=" + key(t, "rita-researcher").Address(): false,
		} {
			if has(q) != want {
				t.Errorf("models%s: listed %t, want %t", q, !want, want)
			}
		}
		if l := getOK[api.ModelList](t, "/v1/models?org=nobody"); l.Models == nil || len(l.Models) != 0 {
			t.Errorf("nobody's models: %+v", l)
		}
		if e := apiErr(t, "GET", "/v1/models?owner=xyz", nil, http.StatusBadRequest, "invalid_field"); e.Param != "owner" {
			t.Errorf("bad owner: %+v", e)
		}
		apiErr(t, "GET", "/v1/models/nope", nil, http.StatusNotFound, "not_found")
		apiErr(t, "GET", "/v1/models/nope/predictions", nil, http.StatusNotFound, "not_found")
		if l := getOK[api.PredictionList](t, "/v1/models/"+m.id+"/predictions"); l.Model != m.id || l.Predictions == nil || len(l.Predictions) != 0 {
			t.Fatalf("predictions: %+v", l)
		}
	})

	x, bucket, proof := m.prove(t, "visit-1", 60, 140, 1)
	verify := func(t *testing.T, req api.VerifyRequest) api.VerifyResult {
		t.Helper()
		status, b := call(t, "POST", "/v1/models/"+m.id+"/verify", verifyBody(t, req))
		var res api.VerifyResult
		if status != http.StatusOK || json.Unmarshal(b, &res) != nil {
			t.Fatalf("verify: %d %s", status, b)
		}
		if res.Model != m.id || res.Commitment != m.c.String() || res.Height == 0 || res.ProofHash != ledger.ProofHash(req.Proof) || res.Bucket != req.Bucket {
			t.Fatalf("verify: %+v", res)
		}
		return res
	}

	t.Run("verify", func(t *testing.T) {
		good := api.VerifyRequest{X: x, Bucket: bucket, Request: "visit-1", Proof: proof}
		if res := verify(t, good); !res.Valid || res.Label != labels[bucket] || res.Reason != "" || bucket != 3 {
			t.Fatalf("valid proof: %+v", res)
		}
		tampered := slices.Clone(proof)
		tampered[len(tampered)-40] ^= 1
		other := slices.Clone(x)
		other[0]++
		for name, c := range map[string]struct {
			req    api.VerifyRequest
			reason string
		}{
			"tampered":      {api.VerifyRequest{X: x, Bucket: bucket, Request: "visit-1", Proof: tampered}, "invalid_proof: proof: "},
			"other bucket":  {api.VerifyRequest{X: x, Bucket: 2, Request: "visit-1", Proof: proof}, "invalid_proof: proof: does not prove that model \"api-cvd\" puts x in bucket 2 (10-20%)"},
			"other x":       {api.VerifyRequest{X: other, Bucket: bucket, Request: "visit-1", Proof: proof}, "invalid_proof: "},
			"other request": {api.VerifyRequest{X: x, Bucket: bucket, Request: "visit-2", Proof: proof}, "invalid_proof: "},
			"truncated":     {api.VerifyRequest{X: x, Bucket: bucket, Request: "visit-1", Proof: proof[:len(proof)-1]}, "invalid_proof: proof: zk: invalid proof: "},
			"dimension":     {api.VerifyRequest{X: x[:2], Bucket: bucket, Request: "visit-1", Proof: proof}, "invalid_field: x: 2 inputs, model \"api-cvd\" has 3 features"},
			"bucket range":  {api.VerifyRequest{X: x, Bucket: 4, Request: "visit-1", Proof: proof}, "invalid_field: bucket: 4 is out of range"},
			"request":       {api.VerifyRequest{X: x, Bucket: bucket, Request: "", Proof: proof}, "invalid_field: request: "},
		} {
			res := verify(t, c.req)
			if res.Valid || !strings.HasPrefix(res.Reason, c.reason) {
				t.Errorf("%s: %+v, want reason %q…", name, res, c.reason)
			}
		}
		apiErr(t, "POST", "/v1/models/"+m.id+"/verify", []byte(`{"x":[1,2,3],"bucket":0,"request":"r","proof":"AA==","extra":1}`), http.StatusBadRequest, "malformed")
		apiErr(t, "POST", "/v1/models/"+m.id+"/verify", []byte(`{"x":[1,2,3]} {}`), http.StatusBadRequest, "malformed")
		apiErr(t, "POST", "/v1/models/"+m.id+"/verify", []byte(`[]`), http.StatusBadRequest, "malformed")
		apiErr(t, "POST", "/v1/models/nope/verify", verifyBody(t, good), http.StatusNotFound, "not_found")
		// Verifying records nothing.
		if got := getOK[ledger.Model](t, "/v1/models/"+m.id); got.Predictions != 0 {
			t.Fatalf("verification recorded something: %+v", got)
		}
	})

	t.Run("record and attest", func(t *testing.T) {
		p1 := key(t, "patient-1")
		// A spot check with public inputs: the ledger verifies the proof.
		sx, sb, sp := m.prove(t, "spot-1", 30, 110, 0)
		res := do(t, "patient-1", &ledger.RecordPrediction{Model: m.id, X: sx, Bucket: sb, Request: "spot-1", Proof: sp})
		if v, _ := eventAttr(res, "record_prediction", "label"); v != "<5%" {
			t.Fatalf("events: %+v", res.Result.Events)
		}
		bad := slices.Clone(sp)
		bad[100] ^= 4
		// Proofs are verified before the mempool (issue 10): an invalid or
		// already recorded one is refused at submission, costing no block.
		apiErr(t, "POST", "/v1/txs", sign(t, p1, &ledger.RecordPrediction{Model: m.id, X: sx, Bucket: sb, Request: "spot-1", Proof: bad}), http.StatusBadRequest, "invalid_proof")
		apiErr(t, "POST", "/v1/txs", sign(t, p1, &ledger.RecordPrediction{Model: m.id, X: sx, Bucket: sb, Request: "spot-1", Proof: sp}), http.StatusConflict, "already_exists")

		// A patient's prediction: verified above, attested by hashes.
		salt := []byte("0123456789abcdef0123456789abcdef")
		do(t, "audrey-auditor", &ledger.AttestPrediction{Model: m.id, XHash: ledger.InputsHash(salt, x), Bucket: bucket, ProofHash: ledger.ProofHash(proof)})

		status, b := call(t, "GET", "/v1/models/"+m.id+"/predictions", nil)
		if status != http.StatusOK {
			t.Fatalf("predictions: %d %s", status, b)
		}
		var l api.PredictionList
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Predictions) != 2 {
			t.Fatalf("predictions: %+v", l)
		}
		v, a := l.Predictions[0], l.Predictions[1]
		if v.Seq != 0 || v.Mode != ledger.PredictionVerified || v.XHash != ledger.InputsHash(nil, sx) || v.Bucket != sb || v.Label != "<5%" ||
			v.ProofHash != ledger.ProofHash(sp) || v.Request != "spot-1" || v.Recorder != p1.Address() || v.Height == 0 {
			t.Fatalf("verified prediction: %+v", v)
		}
		if a.Seq != 1 || a.Mode != ledger.PredictionAttested || a.XHash != ledger.InputsHash(salt, x) || a.Bucket != bucket || a.Label != ">=20%" ||
			a.ProofHash != ledger.ProofHash(proof) || a.Request != "" || a.Recorder != key(t, "audrey-auditor").Address() {
			t.Fatalf("attested prediction: %+v", a)
		}
		// The API never hands out x or a proof, only their hashes.
		var raw struct{ Predictions []map[string]any }
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		for _, p := range raw.Predictions {
			for _, f := range []string{"x", "proof"} {
				if _, ok := p[f]; ok {
					t.Fatalf("a prediction record carries %s: %s", f, b)
				}
			}
		}
		if got := getOK[ledger.Model](t, "/v1/models/"+m.id); got.Predictions != 2 {
			t.Fatalf("model after two predictions: %+v", got)
		}
	})
}

// eventAttr is the value of an attribute of the first event of a type.
func eventAttr(res *api.TxSubmitted, typ, key string) (string, bool) {
	for _, e := range res.Result.Events {
		for _, a := range e.Attrs {
			if e.Type == typ && a.Key == key {
				return a.Value, true
			}
		}
	}
	return "", false
}
