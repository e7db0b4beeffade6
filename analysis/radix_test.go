package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortFloatsMatchesSlicesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, 5000, 70000} {
		for _, gen := range []func() float64{
			rng.NormFloat64,
			func() float64 { return float64(rng.IntN(7)) - 3 }, // heavy ties
			func() float64 { return math.Ldexp(rng.Float64()-0.5, rng.IntN(200)-100) },
			func() float64 { return 0.25 }, // constant
		} {
			x := make([]float64, n)
			for i := range x {
				x[i] = gen()
			}
			want := slices.Clone(x)
			slices.Sort(want)
			sortFloats(x)
			if !slices.Equal(x, want) {
				t.Fatalf("n = %d: radix sort differs from slices.Sort", n)
			}
		}
	}
}
