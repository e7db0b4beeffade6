package ledger

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"

	"github.com/medchain/medchain/zk"
)

// Test models and prediction proofs for the script, property and fuzz
// tests. Everything is deterministic: commitments and proofs draw their
// randomness from seededReader (tests only — real commitments and proofs
// use crypto/rand).

// seededReader is a deterministic byte stream: block i is
// SHA-512("medchain/ledger/test-rng" ‖ seed ‖ uint64be(i)).
type seededReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newSeededReader(seed string) *seededReader { return &seededReader{seed: []byte(seed)} }

func (r *seededReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha512.New()
			h.Write([]byte("medchain/ledger/test-rng"))
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.ctr))
			r.ctr++
			r.buf = h.Sum(nil)
		}
		k := copy(p[n:], r.buf)
		r.buf = r.buf[k:]
		n += k
	}
	return n, nil
}

// testModelScale is the fixed-point scale of the test models.
const testModelScale = 8

// testModels are logistic models over (age years, systolic mmHg, smoker
// 0/1): "cvd" is the one scripts register by default, "other" has
// different weights (a proof from it must not pass for cvd), "wide" has
// five features.
var testModels = map[string]zk.Model{
	"cvd":   {Weights: []float64{0.05, 0.02, 0.7}, Intercept: -7, Scale: testModelScale},
	"other": {Weights: []float64{0.04, 0.03, 0.5}, Intercept: -7.5, Scale: testModelScale},
	"wide":  {Weights: []float64{0.05, 0.02, 0.7, 0.01, -0.3}, Intercept: -7, Scale: testModelScale},
}

// testThresholds are the default risk thresholds: four buckets.
var testThresholds = []float64{0.05, 0.10, 0.20}

var testLabels = []string{"<5%", "5-10%", "10-20%", ">=20%"}

type committedModel struct {
	c       zk.Commitment
	opening zk.Opening
}

var committedModels sync.Map // name → *committedModel

// testCommitted commits to a test model with randomness seeded by its name.
func testCommitted(name string) *committedModel {
	if v, ok := committedModels.Load(name); ok {
		return v.(*committedModel)
	}
	m, ok := testModels[name]
	if !ok {
		panic("no test model " + name)
	}
	c, o, err := zk.Commit(m, newSeededReader("commit/"+name))
	if err != nil {
		panic(err)
	}
	v, _ := committedModels.LoadOrStore(name, &committedModel{c: c, opening: o})
	return v.(*committedModel)
}

// testEdges are the integer score edges of testThresholds.
func testEdges() []int64 {
	e, err := zk.EdgesFromProbabilities(testThresholds, testModelScale)
	if err != nil {
		panic(err)
	}
	return e
}

// testFeatures names n features.
func testFeatures(n int) []ModelFeature {
	base := []ModelFeature{{Name: "age", System: "loinc", Code: "30525-0", Unit: "a"}, {Name: "sbp", System: "loinc", Code: "8480-6", Unit: "mm[Hg]"},
		{Name: "smoker", System: "snomed", Code: "77176002"}}
	out := make([]ModelFeature, n)
	for i := range out {
		if i < len(base) {
			out[i] = base[i]
		} else {
			out[i] = ModelFeature{Name: "f" + strconv.Itoa(i)}
		}
	}
	return out
}

// testRegisterModel registers test model name under id with the default
// thresholds and labels.
func testRegisterModel(id, name string) *RegisterModel {
	cm := testCommitted(name)
	return &RegisterModel{ID: id, Commitment: cm.c.String(), Features: testFeatures(len(cm.opening.Weights)), Scale: testModelScale,
		BucketEdges: testEdges(), BucketLabels: testLabels}
}

// testPrediction proves, with test model name's opening, the bucket that
// real-valued inputs fall in for model id on chain. It returns the
// quantised inputs, the true bucket and the proof bytes.
func testPrediction(name, chain, id, request string, values []float64) ([]int64, uint32, []byte) {
	cm := testCommitted(name)
	x, err := zk.QuantizeInputs(values, testModelScale)
	if err != nil {
		panic(err)
	}
	score, err := cm.opening.Score(x)
	if err != nil {
		panic(err)
	}
	buckets, err := zk.BucketsFromEdges(testEdges())
	if err != nil {
		panic(err)
	}
	i, ok := zk.FindBucket(buckets, score)
	if !ok {
		panic(fmt.Sprintf("score %d in no bucket", score))
	}
	params, err := zk.NewParams(len(x))
	if err != nil {
		panic(err)
	}
	seed := fmt.Sprintf("prove/%s/%s/%s/%s/%v", name, chain, id, request, values)
	p, err := zk.Prove(params, cm.opening, cm.c, x, buckets[i], zk.NewContext(chain, id, request), newSeededReader(seed))
	if err != nil {
		panic(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return x, uint32(i), b
}
