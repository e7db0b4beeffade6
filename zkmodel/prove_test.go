package zkmodel_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zkmodel"
)

const chainID = "zkmodel-test"

func features(names ...string) []ledger.ModelFeature {
	var out []ledger.ModelFeature
	for _, n := range names {
		out = append(out, ledger.ModelFeature{Name: n})
	}
	return out
}

// registered is the model as the ledger keeps it after register_model.
func registered(msg *ledger.RegisterModel) *ledger.Model {
	return &ledger.Model{ID: msg.ID, Commitment: msg.Commitment, Features: msg.Features, Scale: msg.Scale,
		BucketEdges: msg.BucketEdges, BucketLabels: msg.BucketLabels, Job: msg.Job, Description: msg.Description}
}

// The owner's whole path: commit a model, keep the opening, prove a
// prediction with it; the ledger's own check accepts the proof, for the
// bucket the model puts x in, and refuses it for another chain.
func TestCommitAndProve(t *testing.T) {
	job := uint64(3)
	msg, o, err := zkmodel.Commit(zkmodel.Request{
		ID:         "cvd",
		Spec:       zkmodel.Spec{Weights: []float64{0.05, 0.02, 0.7}, Intercept: -7},
		Features:   features("age", "sbp", "smoker"),
		Thresholds: []float64{0.05, 0.1, 0.2},
		Job:        &job,
	}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Scale != 16 || len(msg.BucketEdges) != 3 || strings.Join(msg.BucketLabels, " | ") != "<5% | 5-10% | 10-20% | >=20%" ||
		msg.Job == nil || *msg.Job != 3 || o.Model != "cvd" || o.Commitment.String() != msg.Commitment {
		t.Fatalf("registration %+v, opening of %q", msg, o.Model)
	}
	m := registered(msg)
	o.ChainID = chainID

	// logit = 0.05·60 + 0.02·140 + 0.7 − 7 = −0.5: risk 38%, the top bucket.
	pf, err := zkmodel.Prove(o, m, chainID, "visit-1", []float64{60, 140, 1}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if pf.Bucket != 3 || pf.Label != ">=20%" || pf.Request != "visit-1" || len(pf.Salt) != 32 {
		t.Fatalf("prediction: bucket %d %q, request %q, salt %d bytes", pf.Bucket, pf.Label, pf.Request, len(pf.Salt))
	}
	if err := pf.Check(chainID, m); err != nil {
		t.Fatalf("the ledger's check refuses the proof: %v", err)
	}
	if err := pf.Check("another-chain", m); err == nil {
		t.Fatal("the proof verified for another chain")
	}
	// logit = 0.05·40 + 0.02·120 − 7 = −2.6: risk 6.9%.
	pf, err = zkmodel.Prove(o, m, chainID, "visit-2", []float64{40, 120, 0}, rand.Reader)
	if err != nil || pf.Bucket != 1 {
		t.Fatalf("second prediction: %+v, %v", pf, err)
	}
}

// Each refusal names the input at fault.
func TestInputErrors(t *testing.T) {
	good := zkmodel.Request{ID: "cvd", Spec: zkmodel.Spec{Weights: []float64{1, 2}}, Features: features("a", "b"), Thresholds: []float64{0.1}}
	msg, o, err := zkmodel.Commit(good, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := registered(msg)
	input := func(err error) zkmodel.Input {
		var ie *zkmodel.Error
		if !errors.As(err, &ie) {
			t.Fatalf("%v is not a *zkmodel.Error", err)
		}
		return ie.Input
	}
	for name, c := range map[string]struct {
		change func(r *zkmodel.Request)
		want   zkmodel.Input
		text   string
	}{
		"bad id":          {func(r *zkmodel.Request) { r.ID = "A" }, zkmodel.InputID, "not a valid id"},
		"feature count":   {func(r *zkmodel.Request) { r.Features = features("a") }, zkmodel.InputFeatures, "the model has 2 weights but 1 features are named"},
		"spec's features": {func(r *zkmodel.Request) { r.Features = nil }, zkmodel.InputFeatures, "2 weights but 0 features"},
		"no thresholds":   {func(r *zkmodel.Request) { r.Thresholds = nil }, zkmodel.InputThresholds, "required"},
		"decreasing":      {func(r *zkmodel.Request) { r.Thresholds = []float64{0.2, 0.1} }, zkmodel.InputThresholds, "zk: invalid bucket"},
		"labels":          {func(r *zkmodel.Request) { r.Labels = []string{"low"} }, zkmodel.InputLabels, "1 thresholds make 2 buckets, got 1 labels"},
		"no weights":      {func(r *zkmodel.Request) { r.Spec.Weights, r.Features = nil, features() }, zkmodel.InputModel, ""},
	} {
		r := good
		c.change(&r)
		_, _, err := zkmodel.Commit(r, rand.Reader)
		if err == nil || input(err) != c.want || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want a %q error with %q", name, err, c.want, c.text)
		}
	}

	if _, err := zkmodel.Prove(o, m, chainID, "r", []float64{1}, rand.Reader); err == nil || input(err) != zkmodel.InputX ||
		!strings.Contains(err.Error(), `1 values, model "cvd" has 2 features (a, b)`) {
		t.Errorf("one value for two features: %v", err)
	}
	if _, err := zkmodel.Prove(o, m, chainID, "no spaces", []float64{1, 2}, rand.Reader); err == nil || input(err) != zkmodel.InputRequest {
		t.Errorf("a bad request id: %v", err)
	}
	// Another model's opening does not prove this one's predictions.
	_, other, err := zkmodel.Commit(good, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zkmodel.Prove(other, m, chainID, "r", []float64{1, 2}, rand.Reader); err == nil || !strings.Contains(err.Error(), "the opening is for commitment") {
		t.Errorf("another commitment's opening: %v", err)
	}
}

func TestRequestID(t *testing.T) {
	if r, err := zkmodel.RequestID("visit-42", rand.Reader); err != nil || r != "visit-42" {
		t.Fatalf("%q, %v", r, err)
	}
	a, err := zkmodel.RequestID("", rand.Reader)
	if err != nil || !strings.HasPrefix(a, "req-") || len(a) != 4+16 {
		t.Fatalf("%q, %v", a, err)
	}
	if b, _ := zkmodel.RequestID("", rand.Reader); a == b {
		t.Fatal("two fresh request ids are equal")
	}
	if _, err := zkmodel.RequestID("x y", rand.Reader); err == nil {
		t.Fatal("a request id with a space was accepted")
	}
}

// Openings are written once, 0600, and read back only as the model they
// belong to; a refused model's opening is discarded.
func TestOpenings(t *testing.T) {
	s := zkmodel.Openings{Dir: filepath.Join(t.TempDir(), "models")}
	_, o, err := zkmodel.Commit(zkmodel.Request{ID: "cvd", Spec: zkmodel.Spec{Weights: []float64{1}}, Features: features("a"), Thresholds: []float64{0.1}}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o.ChainID = chainID
	if _, err := s.Load("cvd", ""); err == nil || !strings.Contains(err.Error(), `no opening for model "cvd"`) {
		t.Fatalf("load before save: %v", err)
	}
	path, err := s.Save(o)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("opening file: %v, %v", fi, err)
	}
	if _, err := s.Save(o); !errors.Is(err, zkmodel.ErrOpeningExists) || !strings.Contains(err.Error(), "cvd.opening.json exists") {
		t.Fatalf("second save: %v", err)
	}
	got, err := s.Load("cvd", "")
	if err != nil || got.Commitment != o.Commitment || got.ChainID != chainID {
		t.Fatalf("load: %+v, %v", got, err)
	}
	if _, err := s.Load("other", path); err == nil || !strings.Contains(err.Error(), `is the opening of model "cvd", not "other"`) {
		t.Fatalf("load as another model: %v", err)
	}
	if err := s.Discard("cvd"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("discarded opening: %v", err)
	}
}

// A prediction file is written 0600 even over a file that was readable by
// others.
func TestWritePredictionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proof.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	pf := &client.PredictionFile{ChainID: chainID, Model: "cvd", Request: "r", X: []int64{1}, Proof: []byte{1}}
	if err := zkmodel.WritePredictionFile(path, pf); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	got, err := client.ReadPredictionFile(path)
	if err != nil || got.Model != "cvd" {
		t.Fatalf("read back: %+v, %v", got, err)
	}
}
