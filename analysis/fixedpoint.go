package analysis

import (
	"fmt"
	"math"
)

// FixedPoint encodes Newton steps as vectors of int64 for secure
// aggregation: every real value v becomes round(v·2^FracBits), and vectors
// are added with wrapping (mod 2⁶⁴) arithmetic, so a site can add a random
// mask that the other sites' masks cancel in the sum, and the ledger can
// add masked vectors without floating point.
//
// Layout of an encoded step for p coefficients (EncodedLen(p) values):
//
//	[0] N, [1] Events (plain integers)
//	[2] LogLik, [3, 3+p) Gradient, [3+p, 3+p+p(p+1)/2) Hessian (scaled)
//
// Each decoded value of a sum of S encodings is within S·2^−(FracBits+1) of
// the sum of the real values. The sum is exact only while it stays in range,
// so Encode refuses any value of magnitude 2^(63−FracBits)/MaxSites or more:
// then no sum of up to MaxSites encodings can wrap.
type FixedPoint struct {
	FracBits uint
	MaxSites int
}

// DefaultFixedPoint has a resolution of 2⁻²⁰ ≈ 9.5·10⁻⁷ and accepts
// values below 2³⁷ ≈ 1.4·10¹¹ from each of up to 64 sites — room for the
// information matrix of millions of rows of features in clinical units.
var DefaultFixedPoint = FixedPoint{FracBits: 20, MaxSites: 64}

// EncodedLen is the length of an encoded step with p coefficients.
func EncodedLen(p int) int { return 3 + p + PackedLen(p) }

func (f FixedPoint) validate() error {
	if f.FracBits > 52 || f.MaxSites < 1 || f.MaxSites > 1<<20 {
		return fmt.Errorf("analysis: fixed point needs FracBits ≤ 52 and 1 ≤ MaxSites ≤ 2^20")
	}
	return nil
}

// Limit is the largest magnitude Encode accepts.
func (f FixedPoint) Limit() float64 {
	return math.Ldexp(1, 63-int(f.FracBits)) / float64(f.MaxSites)
}

// Encode turns a step into fixed point.
func (f FixedPoint) Encode(s NewtonStep) ([]int64, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	p, err := s.dim()
	if err != nil {
		return nil, err
	}
	if s.N < 0 || s.Events < 0 {
		return nil, fmt.Errorf("analysis: step counts must not be negative")
	}
	out := make([]int64, 0, EncodedLen(p))
	out = append(out, int64(s.N), int64(s.Events))
	limit := f.Limit()
	for _, vals := range [][]float64{{s.LogLik}, s.Gradient, s.Hessian} {
		for _, v := range vals {
			if !(math.Abs(v) < limit) {
				return nil, fmt.Errorf("analysis: step value out of fixed-point range (|v| < %g): rescale the features or use fewer fraction bits", limit)
			}
			out = append(out, int64(math.Round(math.Ldexp(v, int(f.FracBits)))))
		}
	}
	return out, nil
}

// Decode turns an encoded step (or a sum of them) with p coefficients back
// into a NewtonStep.
func (f FixedPoint) Decode(enc []int64, p int) (NewtonStep, error) {
	if err := f.validate(); err != nil {
		return NewtonStep{}, err
	}
	if p < 1 || len(enc) != EncodedLen(p) {
		return NewtonStep{}, fmt.Errorf("analysis: encoded step has %d values, want %d for %d coefficients", len(enc), EncodedLen(max(p, 1)), p)
	}
	toReal := func(v int64) float64 { return math.Ldexp(float64(v), -int(f.FracBits)) }
	s := NewtonStep{N: int(enc[0]), Events: int(enc[1]), LogLik: toReal(enc[2]),
		Gradient: make([]float64, p), Hessian: make([]float64, PackedLen(p))}
	for j := range s.Gradient {
		s.Gradient[j] = toReal(enc[3+j])
	}
	for j := range s.Hessian {
		s.Hessian[j] = toReal(enc[3+p+j])
	}
	return s, nil
}

// SumEncoded adds encoded steps with wrapping arithmetic.
func SumEncoded(encs ...[]int64) ([]int64, error) {
	if len(encs) == 0 {
		return nil, fmt.Errorf("analysis: nothing to sum")
	}
	sum := make([]int64, len(encs[0]))
	for i, e := range encs {
		if len(e) != len(sum) {
			return nil, fmt.Errorf("analysis: encoded step %d has %d values, step 0 has %d", i, len(e), len(sum))
		}
		for j, v := range e {
			sum[j] += v // wraps mod 2⁶⁴, as the masks need
		}
	}
	return sum, nil
}
