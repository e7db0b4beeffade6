package zk

import (
	"encoding/base64"
	"fmt"
	"math/bits"
)

const (
	proofVersion = 0x01
	// maxLog is log2 of the largest padded commitment length.
	maxLog = 12
	// fixedProofItems counts the 32-byte items every proof has whatever
	// the dimension: S; A, A2, φ1, φ2, y (linear); A, S, T1, T2, τx, μ, t̂,
	// (L, R) per round, a and b (range).
	fixedProofItems = 1 + 5 + 7 + 2*rangeRounds + 2*ipaFinal
)

// linearShape is the number of rounds and the final vector length of the
// linear argument over a padded vector of length 2^log.
func linearShape(log int) (rounds, final int) {
	n := 1 << log
	f := finalLen(n)
	return log - bits.TrailingZeros(uint(f)), f
}

func proofSize(log int) int {
	k, f := linearShape(log)
	return 1 + pointLen*(fixedProofItems+2*k+f)
}

// Proof proves that a committed model's score for public inputs lies in a
// bucket. Its wire form is MarshalBinary's; its text form (for JSON) is
// that in standard base64.
type Proof struct {
	score element // S = s·B + t·H

	linA, linA2            element
	linPhi1, linPhi2, linY scalar
	linL, linR             []element
	linZ                   []scalar

	rpA, rpS, rpT1, rpT2 element
	rpTaux, rpMu, rpThat scalar
	rpL, rpR             []element
	rpAFin, rpBFin       []scalar
}

// Size is the length of the binary encoding.
func (p *Proof) Size() int { return 1 + pointLen*(fixedProofItems+2*len(p.linL)+len(p.linZ)) }

// MarshalBinary encodes the proof as
//
//	0x01 ‖ S ‖ A ‖ A2 ‖ φ1 ‖ φ2 ‖ y ‖ (L_j ‖ R_j)_{j<k} ‖ z_0..z_{f−1}
//	     ‖ A ‖ S ‖ T1 ‖ T2 ‖ τx ‖ μ ‖ t̂ ‖ (L_j ‖ R_j)_{j<5} ‖ a_0..a_3 ‖ b_0..b_3
//
// (linear-relation part, then range part; 32 bytes per item, points in
// ristretto255 encoding, scalars little-endian) where, for a padded
// dimension N = 2^m, f = min(N, 4) and k = m − log2 f.
func (p *Proof) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, p.Size())
	out = append(out, proofVersion)
	pt := func(e *element) { out = append(out, e.enc[:]...) }
	sc := func(s *scalar) { b := scalarBytes(s); out = append(out, b[:]...) }
	pt(&p.score)
	pt(&p.linA)
	pt(&p.linA2)
	sc(&p.linPhi1)
	sc(&p.linPhi2)
	sc(&p.linY)
	for j := range p.linL {
		pt(&p.linL[j])
		pt(&p.linR[j])
	}
	for j := range p.linZ {
		sc(&p.linZ[j])
	}
	pt(&p.rpA)
	pt(&p.rpS)
	pt(&p.rpT1)
	pt(&p.rpT2)
	sc(&p.rpTaux)
	sc(&p.rpMu)
	sc(&p.rpThat)
	for j := range p.rpL {
		pt(&p.rpL[j])
		pt(&p.rpR[j])
	}
	for j := range p.rpAFin {
		sc(&p.rpAFin[j])
	}
	for j := range p.rpBFin {
		sc(&p.rpBFin[j])
	}
	return out, nil
}

// UnmarshalBinary decodes strictly: the length must be exactly that of a
// proof for some dimension up to MaxFeatures, every point a canonical non-identity
// encoding, every scalar canonical (< ℓ). Errors wrap ErrInvalidProof.
func (p *Proof) UnmarshalBinary(data []byte) error {
	k, f, ok := shapeForSize(len(data))
	if !ok {
		return fmt.Errorf("%w: %d bytes is not the size of any proof", ErrInvalidProof, len(data))
	}
	if data[0] != proofVersion {
		return fmt.Errorf("%w: unknown version %#x", ErrInvalidProof, data[0])
	}
	d := decoder{buf: data[1:]}
	var q Proof
	d.point("S", &q.score)
	d.point("lin.A", &q.linA)
	d.point("lin.A2", &q.linA2)
	d.scalar("lin.phi1", &q.linPhi1)
	d.scalar("lin.phi2", &q.linPhi2)
	d.scalar("lin.y", &q.linY)
	q.linL, q.linR = make([]element, k), make([]element, k)
	for j := 0; j < k; j++ {
		d.point(fmt.Sprintf("lin.L[%d]", j), &q.linL[j])
		d.point(fmt.Sprintf("lin.R[%d]", j), &q.linR[j])
	}
	q.linZ = make([]scalar, f)
	for j := range q.linZ {
		d.scalar(fmt.Sprintf("lin.z[%d]", j), &q.linZ[j])
	}
	d.point("rp.A", &q.rpA)
	d.point("rp.S", &q.rpS)
	d.point("rp.T1", &q.rpT1)
	d.point("rp.T2", &q.rpT2)
	d.scalar("rp.taux", &q.rpTaux)
	d.scalar("rp.mu", &q.rpMu)
	d.scalar("rp.that", &q.rpThat)
	q.rpL, q.rpR = make([]element, rangeRounds), make([]element, rangeRounds)
	for j := 0; j < rangeRounds; j++ {
		d.point(fmt.Sprintf("rp.L[%d]", j), &q.rpL[j])
		d.point(fmt.Sprintf("rp.R[%d]", j), &q.rpR[j])
	}
	q.rpAFin, q.rpBFin = make([]scalar, ipaFinal), make([]scalar, ipaFinal)
	for j := range q.rpAFin {
		d.scalar(fmt.Sprintf("rp.a[%d]", j), &q.rpAFin[j])
	}
	for j := range q.rpBFin {
		d.scalar(fmt.Sprintf("rp.b[%d]", j), &q.rpBFin[j])
	}
	if d.err != nil {
		return d.err
	}
	*p = q
	return nil
}

// shapeForSize finds the linear argument's shape from the proof length;
// every dimension has a distinct size.
func shapeForSize(n int) (rounds, final int, ok bool) {
	for log := 1; log <= maxLog; log++ {
		if proofSize(log) == n {
			rounds, final = linearShape(log)
			return rounds, final, true
		}
	}
	return 0, 0, false
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) next(n int) []byte {
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) point(name string, e *element) {
	b := d.next(pointLen)
	if d.err != nil {
		return
	}
	v, err := decodeElement(b)
	if err != nil {
		d.err = fmt.Errorf("%w: %s: %v", ErrInvalidProof, name, err)
		return
	}
	*e = v
}

func (d *decoder) scalar(name string, s *scalar) {
	b := d.next(scalarLen)
	if d.err != nil {
		return
	}
	v, err := decodeScalar(b)
	if err != nil {
		d.err = fmt.Errorf("%w: %s: %v", ErrInvalidProof, name, err)
		return
	}
	*s = v
}

// MarshalText is the binary encoding in standard base64.
func (p *Proof) MarshalText() ([]byte, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	return out, nil
}

// UnmarshalText accepts only canonical standard base64 of a valid
// encoding.
func (p *Proof) UnmarshalText(text []byte) error {
	b, err := base64.StdEncoding.Strict().DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("%w: base64: %v", ErrInvalidProof, err)
	}
	return p.UnmarshalBinary(b)
}
