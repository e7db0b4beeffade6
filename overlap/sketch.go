package overlap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"iter"
	"slices"
)

// Sketch is a cohort reduced to the set of its patients: the sorted,
// de-duplicated 64-bit keyed hashes of the rows' pseudonyms. Several rows of
// one patient give one key, so every count derived from sketches is a count
// of patients, not of rows.
//
// A key is the first 8 bytes (big-endian) of HMAC-SHA256(key, pseudonym).
// Without the HMAC key a sketch cannot be linked to pseudonyms, not even by
// hashing candidate pseudonyms.
//
// The zero Sketch is the empty cohort. Sketches are immutable values; they
// may be shared between goroutines.
type Sketch struct {
	keys []uint64 // strictly increasing
}

// NewSketch hashes every pseudonym under key and returns the cohort's
// sketch. A pseudonym must be spelled the same way every time it is
// sketched (the bytes are hashed as given: "AB12" and "ab12" are different
// patients). The key must be secret; use (*Store).Sketch, which holds one,
// rather than handling keys.
//
// Collisions. HMAC-SHA256 truncated to 64 bits behaves as a random function,
// so two distinct pseudonyms share a key with probability 2⁻⁶⁴, and among N
// distinct pseudonyms ever sketched under one key some pair collides with
// probability at most N(N−1)/2⁶⁵: 2.7·10⁻⁸ for N = 10⁶, 2.7·10⁻⁶ for
// N = 10⁷. A collision can only make two patients look like one, so its
// worst effect is that a one-patient difference is counted as none (a
// refusal missed) or that a difference is counted one short.
func NewSketch(key []byte, pseudonyms iter.Seq[string]) Sketch {
	mac := hmac.New(sha256.New, key)
	var (
		keys []uint64
		buf  []byte
		sum  [sha256.Size]byte
	)
	for p := range pseudonyms {
		mac.Reset()
		buf = append(buf[:0], p...)
		mac.Write(buf)
		keys = append(keys, binary.BigEndian.Uint64(mac.Sum(sum[:0])))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return Sketch{keys: slices.Clip(keys)}
}

// Len is the number of distinct patients in the cohort.
func (s Sketch) Len() int { return len(s.keys) }

// Equal reports whether a and b are the same cohort.
func Equal(a, b Sketch) bool { return slices.Equal(a.keys, b.keys) }

// SymmetricDifference is the number of patients in exactly one of a and b,
// computed by one merge of the two sorted key lists: O(len(a)+len(b)).
func SymmetricDifference(a, b Sketch) int {
	return symDiff(a.keys, b.keys, -1)
}

// DiffersByLessThan reports whether a and b differ by fewer than k patients
// (symmetric difference < k; identical sketches differ by 0). It stops as
// soon as the difference reaches k, and does not merge at all when the sizes
// alone already differ by k or more.
func DiffersByLessThan(a, b Sketch, k int) bool {
	if k <= 0 {
		return false
	}
	if absDiff(len(a.keys), len(b.keys)) >= k {
		return false
	}
	return symDiff(a.keys, b.keys, k) < k
}

// symDiff merges a and b, counting keys in one only. With limit > 0 it
// returns as soon as the count reaches limit (the result is then ≥ limit,
// not the exact difference).
func symDiff(a, b []uint64, limit int) int {
	i, j, d := 0, 0, 0
	for i < len(a) && j < len(b) {
		if d == limit {
			return d
		}
		switch x, y := a[i], b[j]; {
		case x == y:
			i++
			j++
		case x < y:
			d++
			i++
		default:
			d++
			j++
		}
	}
	return d + len(a) - i + len(b) - j
}

func absDiff(x, y int) int {
	if x > y {
		return x - y
	}
	return y - x
}
