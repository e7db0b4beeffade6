package client_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zk"
)

func TestModels(t *testing.T) {
	ctx := context.Background()
	c := client.New(tn.URL)
	lake := key(t, "lakeview-admin")
	mustOK := func(m ledger.Msg) {
		t.Helper()
		res, err := c.SignAndSubmit(ctx, lake, m, true)
		if err == nil {
			err = client.ResultError(res)
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
	}

	const id = "client-risk"
	cm, opening, err := zk.Commit(zk.Model{Weights: []float64{0.8, -0.3}, Intercept: -1, Scale: 12}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edges, err := zk.EdgesFromProbabilities([]float64{0.5}, 12)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(&ledger.RegisterModel{ID: id, Commitment: cm.String(), Features: []ledger.ModelFeature{{Name: "a"}, {Name: "b"}}, Scale: 12,
		BucketEdges: edges, BucketLabels: []string{"low", "high"}})

	m, err := c.Model(ctx, id)
	if err != nil || m.Commitment != cm.String() || m.Owner != lake.Address() {
		t.Fatalf("model: %+v %v", m, err)
	}
	if ms, err := c.Models(ctx, client.ModelFilter{Owner: lake.Address()}); err != nil || len(ms) != 1 || ms[0].ID != id {
		t.Fatalf("lakeview's models: %+v %v", ms, err)
	}
	if ms, err := c.Models(ctx, client.ModelFilter{Org: "nobody"}); err != nil || len(ms) != 0 {
		t.Fatalf("nobody's models: %+v %v", ms, err)
	}
	if _, err := c.Model(ctx, "client-none"); !client.IsNotFound(err) {
		t.Fatalf("missing model: %v", err)
	}

	// Read through a verified state proof: the same model; a missing one is
	// proven absent.
	vm, sc, err := c.VerifiedModel(ctx, id)
	if err != nil || !slices.Equal(vm.BucketEdges, edges) || vm.Commitment != cm.String() || sc.Header == nil || sc.Header.Signers == 0 {
		t.Fatalf("verified model: %+v %+v %v", vm, sc, err)
	}
	if _, _, err := c.VerifiedModel(ctx, "client-none"); !client.IsNotFound(err) {
		t.Fatalf("verified missing model: %v", err)
	}

	// A proof (x = 2, 1 → logit 0.3 → "high"), checked by the node and here.
	x, err := zk.QuantizeInputs([]float64{2, 1}, 12)
	if err != nil {
		t.Fatal(err)
	}
	params, err := zk.NewParams(2)
	if err != nil {
		t.Fatal(err)
	}
	buckets, _ := vm.Buckets()
	p, err := zk.Prove(params, opening, cm, x, buckets[1], zk.NewContext(apitest.ChainID, id, "r-1"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	pf := &client.PredictionFile{ChainID: apitest.ChainID, Model: id, Commitment: cm.String(), Request: "r-1", X: x, Bucket: 1, Label: "high",
		Salt: make([]byte, 32), Proof: pb}
	res, err := c.VerifyPrediction(ctx, id, pf.VerifyRequest())
	if err != nil || !res.Valid || res.Label != "high" || res.ProofHash != ledger.ProofHash(pb) {
		t.Fatalf("node's verification: %+v %v", res, err)
	}
	chain, err := c.Chain(ctx)
	if err != nil || chain != apitest.ChainID {
		t.Fatalf("chain %q %v", chain, err)
	}
	if err := pf.Check(chain, vm); err != nil {
		t.Fatalf("local check: %v", err)
	}
	bad := *pf
	bad.Bucket = 0
	if res, err := c.VerifyPrediction(ctx, id, bad.VerifyRequest()); err != nil || res.Valid || res.Label != "low" || res.Reason == "" {
		t.Fatalf("wrong bucket, node: %+v %v", res, err)
	}
	if err := bad.Check(chain, vm); ledger.CodeOf(err) != ledger.CodeInvalidProof {
		t.Fatalf("wrong bucket, local: %v", err)
	}
	if _, err := c.VerifyPrediction(ctx, "client-none", pf.VerifyRequest()); !client.IsNotFound(err) {
		t.Fatalf("verify against a missing model: %v", err)
	}

	// The prediction file round-trips, strictly.
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	b, _ := json.Marshal(pf)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := client.ReadPredictionFile(path)
	if err != nil || !slices.Equal(back.Proof, pb) || !slices.Equal(back.X, x) || back.Request != "r-1" {
		t.Fatalf("read back: %+v %v", back, err)
	}
	if err := os.WriteFile(path, append(b[:len(b)-1], []byte(`,"score":7}`)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ReadPredictionFile(path); err == nil {
		t.Fatal("a prediction file with an unknown field was accepted")
	}

	// Recorded predictions read back.
	mustOK(&ledger.RecordPrediction{Model: id, X: x, Bucket: 1, Request: "r-1", Proof: pb})
	ps, err := c.Predictions(ctx, id)
	if err != nil || len(ps) != 1 || ps[0].Mode != ledger.PredictionVerified || ps[0].ProofHash != ledger.ProofHash(pb) {
		t.Fatalf("predictions: %+v %v", ps, err)
	}
	if err := client.VerificationFailed("x %d", 1); !errors.Is(err, client.ErrVerification) {
		t.Fatalf("VerificationFailed: %v", err)
	}
}
