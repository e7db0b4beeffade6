package zk

import (
	"encoding/binary"
	"fmt"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// SumOpensTo checks, for every j, that Σ_i commitments[i][j] = sums[j]·B:
// that the sites' value commitments (commitments[i] is site i's vector)
// add up to the aggregate integers, which holds exactly when the sites'
// values at j add up to sums[j] mod ℓ and their blindings cancel
// (Σ_i r_ij ≡ 0 mod ℓ). Since |Σ_i v_ij| < ℓ/2 for fewer than 2^188
// int64 values, that is equality of integers: an aggregate that wrapped
// around mod 2^64 (choose intervals so that it cannot) does not open.
//
// The check is deterministic and costs one point decoding per commitment,
// one addition per commitment and one multi-scalar multiplication of
// len(sums) terms: Σ_j ω_j·(Σ_i C_ij − sums[j]·B) = 0 with weights ω_j
// hashed from every input, so that failing indices cannot cancel. On
// failure it finds the first failing index and returns an error naming it
// that wraps ErrSumMismatch. Malformed input wraps ErrDimension (no sites,
// or a vector of the wrong length) or ErrEncoding (a commitment that is not
// a canonical non-identity point).
func SumOpensTo(commitments [][]Commitment, sums []int64) error {
	if len(commitments) == 0 {
		return fmt.Errorf("%w: no commitments", ErrDimension)
	}
	m := len(sums)
	for i := range commitments {
		if len(commitments[i]) != m {
			return fmt.Errorf("%w: site %d has %d commitments, want %d", ErrDimension, i, len(commitments[i]), m)
		}
	}
	initStore()
	total := make([]ed.ExtendedPoint, m)
	for j := range total {
		total[j].SetZero()
	}
	tr := newTranscript("medchain/zk/sum-check")
	tr.appendUint64("sites", uint64(len(commitments)))
	tr.appendUint64("values", uint64(m))
	for i := range commitments {
		enc := make([]byte, 0, pointLen*m)
		for j := range commitments[i] {
			e, err := decodeElement(commitments[i][j][:])
			if err != nil {
				return fmt.Errorf("%w: site %d, commitment %d: %v", ErrEncoding, i, j, err)
			}
			addExtended(&total[j], &e.p)
			enc = append(enc, commitments[i][j][:]...)
		}
		tr.appendMessage("commitments", enc)
	}
	sumEnc := make([]byte, 0, 8*m)
	for _, s := range sums {
		sumEnc = binary.BigEndian.AppendUint64(sumEnc, uint64(s))
	}
	tr.appendMessage("sums", sumEnc)

	var ms msm
	var bCoef scalar
	for j := range total {
		w := tr.challenge("weight")
		ms.addPoint(&total[j], w)
		s := scalarFromInt64(sums[j])
		bCoef.MulAdd(&w, &s, &bCoef)
	}
	ms.addFixed(store.B, neg(&bCoef))
	if res := ms.eval(); isIdentity(&res) {
		return nil
	}
	for j := range total {
		s := scalarFromInt64(sums[j])
		b := scalarBytes(&s)
		var want ed.ExtendedPoint
		store.tabB.VarTimeScalarMult(&want, &b)
		if want.RistrettoEqualsI(&total[j]) != 1 {
			return fmt.Errorf("%w: index %d", ErrSumMismatch, j)
		}
	}
	// Unreachable unless a weight was zero (probability 2^-252).
	return fmt.Errorf("%w: weighted check failed but every index opens", ErrSumMismatch)
}
