package outputctl_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/medchain/medchain/outputctl"
)

func seeded(seed uint64) outputctl.Source {
	return rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1})
}

// Draws from the discrete Laplace sampler match its probability mass
// function P(z) = (1−q)/(1+q)·q^|z|, q = e^(−s/t): mean 0, variance
// 2q/(1−q)², and a chi-square goodness of fit over −12…12 and the tails.
func TestDiscreteLaplaceMatchesItsDistribution(t *testing.T) {
	for _, tc := range []struct{ s, t uint64 }{
		{1000, 2000},  // ε = 0.5, Δ = 1: scale 2
		{250, 1000},   // ε = 0.25, Δ = 1: scale 4
		{3000, 1000},  // ε = 3: scale 1/3, mostly zeros
		{100, 500000}, // ε = 0.1, Δ = 500: scale 5000
	} {
		src := seeded(tc.s + tc.t)
		const draws = 100000
		q := math.Exp(-float64(tc.s) / float64(tc.t))
		variance := 2 * q / ((1 - q) * (1 - q))
		const edge = 12
		counts := make(map[int64]int)
		var sum, sumSq float64
		for range draws {
			z, err := outputctl.DiscreteLaplace(src, tc.s, tc.t)
			if err != nil {
				t.Fatal(err)
			}
			sum += float64(z)
			sumSq += float64(z) * float64(z)
			counts[max(min(z, edge+1), -edge-1)]++
		}
		mean := sum / draws
		v := sumSq/draws - mean*mean
		if math.Abs(mean) > 5*math.Sqrt(variance/draws) {
			t.Errorf("s/t = %d/%d: mean %.4f", tc.s, tc.t, mean)
		}
		if math.Abs(v/variance-1) > 0.05 {
			t.Errorf("s/t = %d/%d: variance %.4g, theory %.4g", tc.s, tc.t, v, variance)
		}
		if tc.t > 100*tc.s {
			t.Logf("s/t = %d/%d: mean %.2f variance %.4g (theory %.4g)", tc.s, tc.t, mean, v, variance)
			continue // too spread out for a cell-by-cell test; moments suffice
		}
		pmf := func(z int64) float64 { return (1 - q) / (1 + q) * math.Pow(q, math.Abs(float64(z))) }
		tail := q * math.Pow(q, edge) / (1 + q) // P(Z > edge) = P(Z < −edge)
		var chi2 float64
		cells := 0
		for z := int64(-edge - 1); z <= edge+1; z++ {
			p := pmf(z)
			if z == edge+1 || z == -edge-1 {
				p = tail
			}
			exp := p * draws
			if exp < 5 {
				continue
			}
			d := float64(counts[z]) - exp
			chi2 += d * d / exp
			cells++
		}
		pval := distuv.ChiSquared{K: float64(cells - 1)}.Survival(chi2)
		t.Logf("s/t = %d/%d: mean %.4f variance %.4g (theory %.4g), χ² %.1f on %d df, p = %.3f", tc.s, tc.t, mean, v, variance, chi2, cells-1, pval)
		if pval < 1e-4 {
			t.Errorf("s/t = %d/%d: draws do not fit the pmf (χ² p = %.2g)", tc.s, tc.t, pval)
		}
	}
}

func TestDiscreteLaplaceRefusesBadScales(t *testing.T) {
	for _, st := range [][2]uint64{{0, 1}, {1, 0}, {1, 1 << 41}} {
		if _, err := outputctl.DiscreteLaplace(seeded(1), st[0], st[1]); err == nil {
			t.Errorf("s/t = %d/%d accepted", st[0], st[1])
		}
	}
}

// The same seed gives the same noise: tests and audits can replay a
// release.
func TestSeededNoiseIsReproducible(t *testing.T) {
	a, b := seeded(42), seeded(42)
	for range 100 {
		x, _ := outputctl.DiscreteLaplace(a, 500, 1000)
		y, _ := outputctl.DiscreteLaplace(b, 500, 1000)
		if x != y {
			t.Fatal("same seed, different noise")
		}
	}
}

func TestCryptoSourceDraws(t *testing.T) {
	src := outputctl.CryptoSource()
	seen := map[int64]bool{}
	for range 200 {
		z, err := outputctl.DiscreteLaplace(src, 100, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen[z] = true
	}
	if len(seen) < 10 {
		t.Errorf("200 draws at scale 10 took only %d values", len(seen))
	}
}
