package outputctl

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math/bits"
)

// Source is a source of uniformly random 64-bit words. Production uses
// CryptoSource; tests inject a seeded generator (math/rand/v2's *ChaCha8
// and *PCG satisfy it).
type Source interface {
	Uint64() uint64
}

type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	// crypto/rand.Read never fails (it crashes the program if the
	// operating system's generator does, rather than return weak bytes).
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// CryptoSource draws from the operating system's cryptographic generator.
func CryptoSource() Source { return cryptoSource{} }

// uniform draws from {0, …, n−1} without bias (Lemire's multiply-and-reject).
func uniform(src Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// bernoulli is true with probability num/den (0 ≤ num ≤ den, den > 0).
func bernoulli(src Source, num, den uint64) bool { return uniform(src, den) < num }

// bernoulliExp is true with probability exp(−num/den), exactly, using only
// integer draws (Canonne, Kamath & Steinke 2020, Algorithm 1).
func bernoulliExp(src Source, num, den uint64) bool {
	for num > den {
		// exp(−γ) = exp(−1)^⌊γ⌋·exp(−(γ−⌊γ⌋)), one factor at a time; any
		// failure ends it, so this takes about 1.6 rounds whatever γ is.
		if !bernoulliExp(src, 1, 1) {
			return false
		}
		num -= den
	}
	// γ ≤ 1: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until one is false;
	// the first false index is odd with probability exp(−γ).
	k := uint64(1)
	for bernoulli(src, num, den) && bernoulli(src, 1, k) {
		k++
	}
	return k%2 == 1
}

// errScale: discrete Laplace scale out of the range the samplers handle.
var errScale = errors.New("outputctl: noise scale out of range")

// maxScaleNum bounds the integers the samplers are given, far from
// overflow in U + t·V.
const maxScaleNum = 1 << 40

// DiscreteLaplace draws Z with P(Z = z) ∝ exp(−|z|·s/t): the discrete
// Laplace distribution with scale t/s, on the integers. With t = Δ·1000 and
// s = ε in milli-units, Z added to an integer statistic of sensitivity Δ is
// ε-differentially private. The sampler uses integer arithmetic only
// (Canonne, Kamath & Steinke 2020, Algorithm 2), so its output has none of
// the gaps and biases that make textbook floating-point Laplace noise leak
// the true value (Mironov 2012).
func DiscreteLaplace(src Source, s, t uint64) (int64, error) {
	if s == 0 || t == 0 || s > maxScaleNum || t > maxScaleNum {
		return 0, errScale
	}
	for {
		u := uniform(src, t)
		if !bernoulliExp(src, u, t) {
			continue
		}
		// v ~ Geometric(1 − e⁻¹), so x = u + t·v ~ Geometric(1 − e^(−1/t))
		// and y = ⌊x/s⌋ ~ Geometric(1 − e^(−s/t)).
		var v uint64
		for bernoulliExp(src, 1, 1) {
			v++
		}
		y := (u + t*v) / s
		negative := bernoulli(src, 1, 2)
		if negative && y == 0 {
			continue // zero would otherwise be drawn twice as often
		}
		if negative {
			return -int64(y), nil
		}
		return int64(y), nil
	}
}
