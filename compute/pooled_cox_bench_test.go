package compute_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

// BenchmarkPooledCoxRound100kx10 is one site's work in one iteration of a
// pooled Cox study with 10 features on 100 000 rows, on the public grid
// [5, 10] (10 columns fit the contribution on two points at most):
//
//   - sums: the risk-set sums at the iteration's coefficients, on the
//     features centred and clamped as the study declares, fixed-point
//     encoded (compute.computePooledCox);
//   - prove: the masked contribution with its commitments and bounds proof
//     among three sites (federated.Contribute);
//   - verify: what every validator does with it.
//
// The grid check, the cohort rules and the overlap record run once per
// job before the first contribution and are not counted.
func BenchmarkPooledCoxRound100kx10(b *testing.B) {
	const rows, p = 100_000, 10
	rng := mrand.New(mrand.NewPCG(11, 12))
	names := make([]string, p)
	var cols []analysis.Column
	beta := make([]float64, p)
	for j := range p {
		v := make([]float64, rows)
		for i := range v {
			v[i] = max(-3, min(3, rng.NormFloat64()))
		}
		names[j] = fmt.Sprintf("x%02d", j)
		cols = append(cols, analysis.Column{Name: names[j], Values: v})
		beta[j] = 0.05 * float64(j%5)
	}
	times, events := make([]float64, rows), make([]float64, rows)
	for i := range times {
		lp := 0.0
		for j := range p {
			lp += beta[j] * cols[j].Values[i]
		}
		tEvent := rng.ExpFloat64() / (0.05 * math.Exp(lp))
		tCens := min(rng.ExpFloat64()/0.03, 20)
		times[i] = math.Round(min(tEvent, tCens)*10) / 10
		if tEvent <= tCens {
			events[i] = 1
		}
	}
	cols = append(cols, analysis.Column{Name: "time", Values: times}, analysis.Column{Name: "event", Values: events})
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		b.Fatal(err)
	}
	grid := []float64{5, 10}
	s, err := analysis.NewSurvivalData(tbl, analysis.SurvivalParams{Time: "time", Event: "event", Grid: grid, Features: names})
	if err != nil {
		b.Fatal(err)
	}
	spec := federated.Spec{Columns: p, Link: federated.LinkCox, MaxAbs: make([]uint64, p),
		Cox: &federated.CoxSpec{Grid: []uint64{5e6, 10e6}, Ties: analysis.TiesEfron, Center: make([]int64, p)}}
	maxAbs := make([]float64, p)
	for j := range p {
		spec.MaxAbs[j], maxAbs[j] = 3<<federated.MaxAbsUnit, 3
	}
	bounds, err := spec.Bounds(federated.PhaseStep, 11, 1_000_000, 500)
	if err != nil {
		b.Fatal(err)
	}
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	zero := make([]float64, p)
	contribution := func() []int64 {
		sums, err := analysis.CoxGridSums(s, grid, beta, zero, analysis.CoxShift(beta, maxAbs))
		if err != nil {
			b.Fatal(err)
		}
		sums[0], sums[1] = 0, 0
		v, err := fp.EncodeValues(sums)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	var values []int64
	b.Run("sums", func(b *testing.B) {
		for b.Loop() {
			values = contribution()
		}
	})
	var privs []*ecdh.PrivateKey
	var peers []federated.Peer
	for i := range 3 {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		privs = append(privs, k)
		peers = append(peers, federated.Peer{Site: fmt.Sprintf("site-%d", i), Key: k.PublicKey().Bytes()})
	}
	sess := federated.Session{ChainID: "bench", Job: 1, Phase: federated.PhaseStep}
	var c *federated.Contribution
	b.Run("prove", func(b *testing.B) {
		for b.Loop() {
			if c, err = federated.Contribute(privs[0], 0, peers, sess, values, bounds, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(values)), "values")
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := c.Verify(sess, peers[0].Site, bounds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
