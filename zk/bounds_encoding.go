package zk

import (
	"encoding/base64"
	"fmt"
)

// MarshalBinary encodes the proof as
//
//	0xb1 ‖ A ‖ S ‖ T1 ‖ T2 ‖ τx ‖ μ ‖ t̂ ‖ (L_k ‖ R_k)_{k<K} ‖ a_0..a_3 ‖ b_0..b_3
//
// 32 bytes per item (points in ristretto255 encoding, scalars
// little-endian), K inner-product rounds: 1 + 32·(15 + 2K) bytes.
func (p *BoundsProof) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, p.Size())
	out = append(out, boundsProofTag)
	pt := func(e *element) { out = append(out, e.enc[:]...) }
	sc := func(s *scalar) { b := scalarBytes(s); out = append(out, b[:]...) }
	pt(&p.a)
	pt(&p.s)
	pt(&p.t1)
	pt(&p.t2)
	sc(&p.taux)
	sc(&p.mu)
	sc(&p.tHat)
	for k := range p.l {
		pt(&p.l[k])
		pt(&p.r[k])
	}
	for i := range p.aFinal {
		sc(&p.aFinal[i])
	}
	for i := range p.bFinal {
		sc(&p.bFinal[i])
	}
	return out, nil
}

// UnmarshalBinary decodes strictly: the length must be exactly that of a
// proof for some 1 ≤ m ≤ MaxBoundsValues (so no trailing bytes), the tag
// 0xb1, every point a canonical non-identity encoding, every scalar
// canonical (< ℓ). Whatever it accepts re-encodes to the same bytes.
// Errors wrap ErrInvalidProof.
func (p *BoundsProof) UnmarshalBinary(data []byte) error {
	k, ok := boundsRoundsForSize(len(data))
	if !ok {
		return fmt.Errorf("%w: %d bytes is not the size of any bounds proof", ErrInvalidProof, len(data))
	}
	if data[0] != boundsProofTag {
		return fmt.Errorf("%w: bounds proof: unknown tag %#x", ErrInvalidProof, data[0])
	}
	d := decoder{buf: data[1:]}
	var q BoundsProof
	d.point("A", &q.a)
	d.point("S", &q.s)
	d.point("T1", &q.t1)
	d.point("T2", &q.t2)
	d.scalar("taux", &q.taux)
	d.scalar("mu", &q.mu)
	d.scalar("that", &q.tHat)
	q.l, q.r = make([]element, k), make([]element, k)
	for j := 0; j < k; j++ {
		d.point(fmt.Sprintf("L[%d]", j), &q.l[j])
		d.point(fmt.Sprintf("R[%d]", j), &q.r[j])
	}
	q.aFinal, q.bFinal = make([]scalar, ipaFinal), make([]scalar, ipaFinal)
	for j := range q.aFinal {
		d.scalar(fmt.Sprintf("a[%d]", j), &q.aFinal[j])
	}
	for j := range q.bFinal {
		d.scalar(fmt.Sprintf("b[%d]", j), &q.bFinal[j])
	}
	if d.err != nil {
		return d.err
	}
	*p = q
	return nil
}

// boundsRoundsForSize inverts BoundsProofSize over 1 ≤ m ≤ MaxBoundsValues.
func boundsRoundsForSize(n int) (int, bool) {
	for k := boundsRounds(1); k <= boundsRounds(MaxBoundsValues); k++ {
		if 1+pointLen*(boundsFixedItems+2*k) == n {
			return k, true
		}
	}
	return 0, false
}

// MarshalText is the binary encoding in standard base64.
func (p *BoundsProof) MarshalText() ([]byte, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(b)), nil
}

// UnmarshalText accepts only the canonical standard base64 (no line
// breaks) of a valid encoding.
func (p *BoundsProof) UnmarshalText(text []byte) error {
	b, err := base64.StdEncoding.Strict().DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("%w: base64: %v", ErrInvalidProof, err)
	}
	if base64.StdEncoding.EncodeToString(b) != string(text) { // e.g. line breaks, which the decoder skips
		return fmt.Errorf("%w: base64: not canonical", ErrInvalidProof)
	}
	return p.UnmarshalBinary(b)
}
