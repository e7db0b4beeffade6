package zk

import (
	"encoding/hex"
	"fmt"
)

// Scalar is an element of ℤ_ℓ (ℓ the ristretto255 group order) in its
// canonical encoding: 32 bytes, little-endian, < ℓ. It is the blinding of
// a value commitment (CommitValue). Secure aggregation derives blindings
// from pairwise secrets with ScalarFromUniform, Add, Sub and Neg so that
// they cancel across sites.
//
// The arithmetic methods read their operands as little-endian integers
// reduced mod ℓ, and always return canonical scalars; CommitValue and
// ProveBounds insist on canonical blindings, and UnmarshalText accepts
// nothing else. The text form (JSON) is 64 lowercase hex digits.
type Scalar [32]byte

// ScalarFromUniform reduces 64 uniformly random bytes (little-endian) mod
// ℓ: the result is uniform up to a bias below 2^-250. Derive b from a
// hash or PRF output, e.g. SHA-512 of a pairwise secret and a label.
func ScalarFromUniform(b [64]byte) Scalar {
	var s scalar
	s.SetReduced(&b)
	return Scalar(scalarBytes(&s))
}

// ScalarFromInt64 maps v to v mod ℓ (negative v to ℓ − |v|).
func ScalarFromInt64(v int64) Scalar {
	s := scalarFromInt64(v)
	return Scalar(scalarBytes(&s))
}

// toScalar reduces s mod ℓ.
func (s Scalar) toScalar() scalar {
	var wide [64]byte
	copy(wide[:], s[:])
	var r scalar
	r.SetReduced(&wide)
	return r
}

// canonical decodes s, refusing encodings ≥ ℓ.
func (s Scalar) canonical() (scalar, error) { return decodeScalar(s[:]) }

// Add returns s + t mod ℓ.
func (s Scalar) Add(t Scalar) Scalar {
	a, b := s.toScalar(), t.toScalar()
	a.Add(&a, &b)
	return Scalar(scalarBytes(&a))
}

// Sub returns s − t mod ℓ.
func (s Scalar) Sub(t Scalar) Scalar {
	a, b := s.toScalar(), t.toScalar()
	a.Sub(&a, &b)
	return Scalar(scalarBytes(&a))
}

// Neg returns −s mod ℓ.
func (s Scalar) Neg() Scalar {
	a := s.toScalar()
	a.Neg(&a)
	return Scalar(scalarBytes(&a))
}

// IsZero reports whether s ≡ 0 mod ℓ.
func (s Scalar) IsZero() bool {
	a := s.toScalar()
	return a == (scalar{})
}

// IsCanonical reports whether s is < ℓ, i.e. a valid encoding.
func (s Scalar) IsCanonical() bool {
	_, err := s.canonical()
	return err == nil
}

func (s Scalar) String() string { return hex.EncodeToString(s[:]) }

// MarshalText is 64 lowercase hex digits.
func (s Scalar) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts 64 hex digits encoding a canonical scalar.
func (s *Scalar) UnmarshalText(text []byte) error {
	var buf [scalarLen]byte
	if len(text) != 2*scalarLen {
		return fmt.Errorf("%w: scalar must be %d hex digits", ErrEncoding, 2*scalarLen)
	}
	if _, err := hex.Decode(buf[:], text); err != nil {
		return fmt.Errorf("%w: scalar: %v", ErrEncoding, err)
	}
	if _, err := decodeScalar(buf[:]); err != nil {
		return fmt.Errorf("%w: scalar: %v", ErrEncoding, err)
	}
	*s = buf
	return nil
}
