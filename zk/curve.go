package zk

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"

	ristretto "github.com/bwesterb/go-ristretto"
	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// The arithmetic is go-ristretto's (the ristretto255 implementation behind
// circl's group.Ristretto255): its exported edwards25519 layer gives us
// extended/Niels points and complete addition formulas, on which msm.go
// builds the multi-scalar multiplications this protocol lives on.

type scalar = ristretto.Scalar

const (
	pointLen  = 32
	scalarLen = 32
)

// element is a group element together with its canonical ristretto255
// encoding, which the transcript absorbs and the wire format carries.
type element struct {
	p   ed.ExtendedPoint
	enc [pointLen]byte
}

func newElement(p *ed.ExtendedPoint) element {
	var e element
	e.p = *p
	p.RistrettoInto(&e.enc)
	return e
}

var (
	errNonCanonicalPoint  = errors.New("non-canonical or invalid point encoding")
	errIdentityPoint      = errors.New("identity point")
	errNonCanonicalScalar = errors.New("non-canonical scalar encoding")
)

var zeroEncoding [pointLen]byte

// decodeElement accepts only canonical encodings of non-identity elements.
// The identity has exactly one canonical encoding, all zeroes.
func decodeElement(b []byte) (element, error) {
	var e element
	if len(b) != pointLen {
		return e, fmt.Errorf("point: want %d bytes, have %d", pointLen, len(b))
	}
	copy(e.enc[:], b)
	if subtle.ConstantTimeCompare(e.enc[:], zeroEncoding[:]) == 1 {
		return e, errIdentityPoint
	}
	if !e.p.SetRistretto(&e.enc) {
		return e, errNonCanonicalPoint
	}
	return e, nil
}

func isIdentity(p *ed.ExtendedPoint) bool {
	var enc [pointLen]byte
	p.RistrettoInto(&enc)
	return enc == zeroEncoding
}

func decodeScalar(b []byte) (scalar, error) {
	var s scalar
	if len(b) != scalarLen {
		return s, fmt.Errorf("scalar: want %d bytes, have %d", scalarLen, len(b))
	}
	var buf [scalarLen]byte
	copy(buf[:], b)
	if !s.SetBytesStrict(&buf) {
		return s, errNonCanonicalScalar
	}
	return s, nil
}

func scalarBytes(s *scalar) [scalarLen]byte {
	var b [scalarLen]byte
	s.BytesInto(&b)
	return b
}

// randomScalar draws 64 bytes and reduces them mod ℓ, so the bias is
// below 2^-250.
func randomScalar(rand io.Reader) (scalar, error) {
	var buf [64]byte
	var s scalar
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return s, fmt.Errorf("reading randomness: %w", err)
	}
	s.SetReduced(&buf)
	return s, nil
}

// scalarFromInt64 maps v to v mod ℓ (negative values become ℓ - |v|)
// without branching on v, since model weights are secret.
func scalarFromInt64(v int64) scalar {
	var s, neg scalar
	m := uint64(v >> 63)
	abs := (uint64(v) ^ m) - m
	s.SetUint64(abs)
	neg.Neg(&s)
	s.ConditionalSet(&neg, int32(m&1))
	return s
}

func scalarFromUint64(v uint64) scalar {
	var s scalar
	s.SetUint64(v)
	return s
}

func scalarOne() scalar {
	var s scalar
	s.SetOne()
	return s
}

// d2 is 2·d, the curve constant premultiplied as Niels coordinates need it.
var d2 ed.FieldElement

func init() {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665))
	d.Lsh(d, 1)
	d.Mod(d, p)
	d2.SetBigInt(d)
}

// toNiels converts extended points to affine Niels form (y+x, y−x, 2dxy)
// with one field inversion for the whole slice (Montgomery's trick).
// Mixed additions with Niels points are about a quarter cheaper than
// extended additions, which is what every table in this package is for.
func toNiels(out []ed.NielsPoint, in []ed.ExtendedPoint) {
	if len(in) == 0 {
		return
	}
	prefix := make([]ed.FieldElement, len(in))
	var acc ed.FieldElement
	acc.SetOne()
	for i := range in {
		prefix[i] = acc
		acc.Mul(&acc, &in[i].Z)
	}
	var inv, zinv, x, y ed.FieldElement
	inv.Inverse(&acc)
	for i := len(in) - 1; i >= 0; i-- {
		zinv.Mul(&inv, &prefix[i])
		inv.Mul(&inv, &in[i].Z)
		x.Mul(&in[i].X, &zinv)
		y.Mul(&in[i].Y, &zinv)
		out[i].YPlusX.Add(&y, &x)
		out[i].YMinusX.Sub(&y, &x)
		out[i].XY2D.Mul(&x, &y)
		out[i].XY2D.Mul(&out[i].XY2D, &d2)
	}
}

func addExtended(p, q *ed.ExtendedPoint) {
	var c ed.CompletedPoint
	c.AddExtended(p, q)
	p.SetCompleted(&c)
}

func identity() ed.ExtendedPoint {
	var p ed.ExtendedPoint
	p.SetZero()
	return p
}
