package zkmodel_test

import (
	"crypto/rand"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/zkmodel"
)

// benchModel is a 6-feature model, the size of the demo's CVD model.
func benchModel(b *testing.B) (*zkmodel.Opening, zkmodel.Request) {
	b.Helper()
	r := zkmodel.Request{ID: "bench", Spec: zkmodel.Spec{Weights: []float64{0.06, 0.02, 0.01, -0.02, 0.6, 0.5}, Intercept: -9},
		Features: features("age", "sbp", "total_chol", "hdl", "smoker", "diabetes"), Thresholds: []float64{0.05, 0.1, 0.2}}
	_, o, err := zkmodel.Commit(r, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return o, r
}

// BenchmarkCommit is `model commit`'s local work: quantise, commit, edges.
func BenchmarkCommit(b *testing.B) {
	_, r := benchModel(b)
	for b.Loop() {
		if _, _, err := zkmodel.Commit(r, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProve is `model prove`'s local work for one prediction.
func BenchmarkProve(b *testing.B) {
	_, r := benchModel(b)
	msg, o, err := zkmodel.Commit(r, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	m := registered(msg)
	x := []float64{60, 140, 213, 50, 1, 0}
	for b.Loop() {
		if _, err := zkmodel.Prove(o, m, chainID, "bench", x, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromJobResult reads a released model from a two-site result
// file as `job result --out` writes it.
func BenchmarkFromJobResult(b *testing.B) {
	m := analysis.Model{Link: analysis.Logit, Features: []string{"age", "sbp"}, Intercept: -8, Coefficients: []float64{0.06, 0.02}}
	file := resultJSON(b, m, m)
	for b.Loop() {
		if _, _, err := zkmodel.FromJobResult(file); err != nil {
			b.Fatal(err)
		}
	}
}
