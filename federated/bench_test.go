package federated_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

// benchSite is a site's design: rows × 20 features in [−3, 3], a logistic
// outcome.
func benchSite(b *testing.B, seed uint64, rows, features int) *analysis.Design {
	b.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 1))
	cols := make([]analysis.Column, 0, features+1)
	names := make([]string, features)
	for j := range features {
		v := make([]float64, rows)
		for i := range v {
			v[i] = max(-3, min(3, rng.NormFloat64()))
		}
		names[j] = fmt.Sprintf("x%02d", j)
		cols = append(cols, analysis.Column{Name: names[j], Values: v})
	}
	y := make([]float64, rows)
	for i := range y {
		if rng.Float64() < 0.3 {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(append(cols, analysis.Column{Name: "y", Values: y})...)
	if err != nil {
		b.Fatal(err)
	}
	d, err := analysis.NewDesign(tbl, "y", names, nil)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkStudyIteration measures one iteration of a pooled logistic
// regression with 20 features (21 coefficients, 255 values per site) over
// 3 and 10 sites of 5,000 rows each:
//
//   - unmasked: every site's Newton step, encoded, and their sum (the old
//     post_step path);
//   - masked: the same steps, plus each site's masks, commitments and
//     bounds proof (federated.Contribute), the ledger's verification of
//     every proof, and its aggregation with the sum-opening check.
//
// Sites run one after another here; on a real network each site's work
// runs on its own machine in parallel, and every validator verifies all
// contributions. It reports bytes per iteration of the unmasked steps and
// of the masked contributions (JSON, as on the ledger).
func BenchmarkStudyIteration(b *testing.B) {
	const rows, features = 5000, 20
	for _, n := range []int{3, 10} {
		designs := make([]*analysis.Design, n)
		for s := range n {
			designs[s] = benchSite(b, uint64(s), rows, features)
		}
		p := designs[0].P()
		beta := make([]float64, p)
		fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
		encode := func(d *analysis.Design) []int64 {
			st, err := analysis.LocalStep(d, beta, analysis.Logit)
			if err != nil {
				b.Fatal(err)
			}
			st.N, st.Events = 0, 0
			v, err := fp.Encode(st)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
		b.Run(fmt.Sprintf("sites=%d/unmasked", n), func(b *testing.B) {
			var bytes int
			for b.Loop() {
				var all [][]int64
				bytes = 0
				for _, d := range designs {
					v := encode(d)
					raw, _ := json.Marshal(v)
					bytes += len(raw)
					all = append(all, v)
				}
				if _, err := analysis.SumEncoded(all...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bytes), "ledger-bytes/iter")
		})
		privs, peers := sites(b, n)
		spec := federated.Spec{Columns: uint32(p), Link: "logit", MaxAbs: make([]uint64, p)}
		for j := range spec.MaxAbs {
			spec.MaxAbs[j] = 3 << federated.MaxAbsUnit
		}
		bounds, err := spec.Bounds(federated.PhaseStep, 11, 10_000, 1000)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("sites=%d/masked", n), func(b *testing.B) {
			var bytes int
			iter := uint32(0)
			for b.Loop() {
				sess := federated.Session{ChainID: "bench", Job: 1, Iteration: iter, Phase: federated.PhaseStep}
				iter++
				cs := make([]*federated.Contribution, n)
				bytes = 0
				for s, d := range designs {
					c, err := federated.Contribute(privs[s], s, peers, sess, encode(d), bounds, rand.Reader)
					if err != nil {
						b.Fatal(err)
					}
					cs[s] = c
					raw, _ := json.Marshal(c)
					bytes += len(raw)
				}
				for s, c := range cs {
					if err := c.Verify(sess, peers[s].Site, bounds); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := federated.Aggregate(cs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bytes), "ledger-bytes/iter")
		})
	}
}

// BenchmarkBoundsProofPerSite is one site's proof of bounds for a 20-feature
// step (255 values) and its verification by a validator.
func BenchmarkBoundsProofPerSite(b *testing.B) {
	privs, peers := sites(b, 3)
	spec := federated.Spec{Columns: 21, Link: "logit", MaxAbs: make([]uint64, 21)}
	for j := range spec.MaxAbs {
		spec.MaxAbs[j] = 3 << federated.MaxAbsUnit
	}
	bounds, _ := spec.Bounds(federated.PhaseStep, 11, 10_000, 1000)
	values := make([]int64, len(bounds))
	for j, iv := range bounds {
		values[j] = iv.Lo/2 + iv.Hi/2
	}
	sess := federated.Session{ChainID: "bench", Job: 1, Phase: federated.PhaseStep}
	var c *federated.Contribution
	b.Run("prove", func(b *testing.B) {
		for b.Loop() {
			var err error
			if c, err = federated.Contribute(privs[0], 0, peers, sess, values, bounds, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := c.Verify(sess, peers[0].Site, bounds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
