package zk

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

// boundsBenchInput is one site's contribution: m values with intervals
// around them and random blindings.
func boundsBenchInput(b *testing.B, m int) ([]int64, []Scalar, []Interval, []Commitment) {
	values := make([]int64, m)
	blindings := make([]Scalar, m)
	bounds := make([]Interval, m)
	for j := range values {
		values[j] = int64(j)*123456789 - 1<<40
		bounds[j] = Interval{Lo: -1 << 50, Hi: 1 << 50}
		var u [64]byte
		if _, err := rand.Read(u[:]); err != nil {
			b.Fatal(err)
		}
		blindings[j] = ScalarFromUniform(u)
	}
	cs, err := CommitValues(values, blindings)
	if err != nil {
		b.Fatal(err)
	}
	boundsGenerators(boundsPaddedLen(m)) // derive the generators outside the timing
	return values, blindings, bounds, cs
}

// m = 47 and 255 are one site's sufficient statistics for p = 8 and p = 21
// coefficients (the p(p+1)/2 entries of XᵀX, p of Xᵀy, plus counts).
var boundsBenchSizes = []int{47, 255}

func BenchmarkProveBounds(b *testing.B) {
	for _, m := range boundsBenchSizes {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			values, blindings, bounds, _ := boundsBenchInput(b, m)
			b.ReportMetric(float64(BoundsProofSize(m)), "proof-bytes")
			b.ResetTimer()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := ProveBounds([]byte("ctx"), values, blindings, bounds, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

func BenchmarkVerifyBounds(b *testing.B) {
	for _, m := range boundsBenchSizes {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			values, blindings, bounds, cs := boundsBenchInput(b, m)
			pf, err := ProveBounds([]byte("ctx"), values, blindings, bounds, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := VerifyBounds([]byte("ctx"), cs, bounds, pf); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkVerifyBoundsBatch checks 10 sites' proofs (m = 255 each) in one
// multi-scalar multiplication.
func BenchmarkVerifyBoundsBatch(b *testing.B) {
	const sites, m = 10, 255
	items := make([]BoundsItem, sites)
	for i := range items {
		values, blindings, bounds, cs := boundsBenchInput(b, m)
		ctx := []byte(fmt.Sprint("site-", i))
		pf, err := ProveBounds(ctx, values, blindings, bounds, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		items[i] = BoundsItem{ctx, cs, bounds, pf}
	}
	b.ResetTimer()
	start, wall := cpuTime(), time.Now()
	for i := 0; i < b.N; i++ {
		if err := VerifyBoundsBatch(items); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
	b.ReportMetric(float64(sites*b.N)/time.Since(wall).Seconds(), "proofs/s")
}

// BenchmarkSumOpensTo: 10 sites × 255 commitments against their aggregate.
func BenchmarkSumOpensTo(b *testing.B) {
	const sites, m = 10, 255
	commitments := make([][]Commitment, sites)
	sums := make([]int64, m)
	total := make([]Scalar, m)
	for i := range commitments {
		values, blindings, _, _ := boundsBenchInput(b, m)
		if i == sites-1 {
			for j := range blindings {
				blindings[j] = total[j].Neg() // the last site's blindings cancel the rest
			}
		}
		for j := range values {
			sums[j] += values[j]
			total[j] = total[j].Add(blindings[j])
		}
		cs, err := CommitValues(values, blindings)
		if err != nil {
			b.Fatal(err)
		}
		commitments[i] = cs
	}
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := SumOpensTo(commitments, sums); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
