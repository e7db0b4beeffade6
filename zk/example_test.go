package zk_test

import (
	"crypto/rand"
	"fmt"

	"github.com/medchain/medchain/zk"
)

// A hospital consortium publishes a 10-year cardiovascular risk model as a
// commitment, with risk bands <10 %, 10–20 % and ≥20 %. A clinic asks for
// a patient's band and checks the answer against the commitment.
func Example() {
	model := zk.Model{
		// age/10, systolic BP/10, total cholesterol, HDL (mmol/L), smoker, diabetic
		Weights:   []float64{0.62, 0.18, 0.21, -0.45, 0.66, 0.57},
		Intercept: -8.9,
		Scale:     zk.DefaultScale,
	}
	commitment, opening, err := zk.Commit(model, rand.Reader) // the owner keeps opening
	if err != nil {
		panic(err)
	}
	edges, _ := zk.EdgesFromProbabilities([]float64{0.10, 0.20}, zk.DefaultScale)
	bands, _ := zk.BucketsFromEdges(edges)

	// The owner answers a request: the patient's band, with a proof.
	x, _ := zk.QuantizeInputs([]float64{5.8, 13.5, 5.2, 1.3, 1, 0}, zk.DefaultScale)
	score, _ := opening.Score(x)
	band, _ := zk.FindBucket(bands, score)
	params, _ := zk.NewParams(len(x))
	ctx := zk.NewContext("medchain-demo", "cvd-10y-v1", "request-42")
	proof, err := zk.Prove(params, opening, commitment, x, bands[band], ctx, rand.Reader)
	if err != nil {
		panic(err)
	}
	wire, _ := proof.MarshalBinary()

	// The clinic knows the commitment, the bands, x and the context.
	var received zk.Proof
	if err := received.UnmarshalBinary(wire); err != nil {
		panic(err)
	}
	fmt.Println("band:", []string{"<10%", "10-20%", ">=20%"}[band])
	fmt.Println("verified:", zk.Verify(params, commitment, x, bands[band], ctx, &received) == nil)
	fmt.Println("another band verifies:", zk.Verify(params, commitment, x, bands[0], ctx, &received) == nil)
	fmt.Println("proof bytes:", len(wire))
	// Output:
	// band: 10-20%
	// verified: true
	// another band verifies: false
	// proof bytes: 1185
}
