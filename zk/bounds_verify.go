package zk

import (
	"errors"
	"fmt"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// VerifyBounds checks a proof that the values committed in commitments lie
// in their intervals, for this context. It is deterministic — no
// randomness; the weights combining the verification equations are
// challenges of the transcript, after the whole proof — and
// single-threaded, fit for consensus code. Every failure wraps
// ErrInvalidProof and says what failed.
func VerifyBounds(context []byte, commitments []Commitment, bounds []Interval, proof *BoundsProof) error {
	ch, err := proof.replay(context, commitments, bounds)
	if err != nil {
		return err
	}
	acc := newBoundsAcc(ch.nPad)
	proof.equations(acc, ch, bounds, scalarOne())
	if res := acc.eval(); isIdentity(&res) {
		return nil
	}
	// Say which equation fails: the t̂ one alone is a small sum.
	poly := newBoundsAcc(0)
	proof.polyEquation(poly, ch, bounds, scalarOne())
	if res := poly.eval(); !isIdentity(&res) {
		return fmt.Errorf("%w: bounds proof: the range polynomial check (t̂) fails", ErrInvalidProof)
	}
	return fmt.Errorf("%w: bounds proof: the inner-product argument fails", ErrInvalidProof)
}

// BoundsItem is one statement and proof for VerifyBoundsBatch.
type BoundsItem struct {
	Context     []byte
	Commitments []Commitment
	Bounds      []Interval
	Proof       *BoundsProof
}

// VerifyBoundsBatch checks many bounds proofs (say, every site's
// contribution to one round) with a single multi-scalar multiplication:
// all proofs share the generators, so n proofs cost little more than the
// longest of them. The proofs' equations are combined with weights hashed
// from all of them, deterministically, as in BatchVerify. On failure the
// items are checked one by one and the first invalid one is reported as a
// *BatchError wrapping ErrInvalidProof.
func VerifyBoundsBatch(items []BoundsItem) error {
	if len(items) == 0 {
		return nil
	}
	chs := make([]*boundsChallenges, len(items))
	nPad := 0
	for i := range items {
		it := &items[i]
		ch, err := it.Proof.replay(it.Context, it.Commitments, it.Bounds)
		if err != nil {
			return &BatchError{Index: i, Err: err}
		}
		chs[i] = ch
		nPad = max(nPad, ch.nPad)
	}
	bt := newTranscript("medchain/zk/bounds/batch")
	bt.appendUint64("count", uint64(len(items)))
	for _, ch := range chs {
		bt.appendScalar("proof", &ch.digest)
	}
	acc := newBoundsAcc(nPad)
	for i := range items {
		items[i].Proof.equations(acc, chs[i], items[i].Bounds, bt.challenge("weight"))
	}
	if res := acc.eval(); isIdentity(&res) {
		return nil
	}
	for i := range items {
		it := &items[i]
		if err := VerifyBounds(it.Context, it.Commitments, it.Bounds, it.Proof); err != nil {
			return &BatchError{Index: i, Err: err}
		}
	}
	return errors.New("zk: bounds batch failed but every proof verifies")
}

// boundsChallenges is the verifier's view of the transcript.
type boundsChallenges struct {
	v          []element // the commitments, decoded
	nReal      int       // 128·m
	nPad       int
	y, z, x, w scalar
	u          []scalar
	omega      scalar // weight of the inner-product equation
	digest     scalar
}

func (p *BoundsProof) replay(context []byte, commitments []Commitment, bounds []Interval) (*boundsChallenges, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: bounds proof: missing proof", ErrInvalidProof)
	}
	m := len(commitments)
	if err := checkBoundsShape(m, len(bounds), "intervals"); err != nil {
		return nil, fmt.Errorf("%w: bounds proof: %v", ErrInvalidProof, err)
	}
	if k := boundsRounds(m); len(p.l) != k || len(p.r) != k || len(p.aFinal) != ipaFinal || len(p.bFinal) != ipaFinal {
		return nil, fmt.Errorf("%w: bounds proof: shape (%d rounds) does not match %d values (%d rounds)", ErrInvalidProof, len(p.l), m, k)
	}
	for j, iv := range bounds {
		if err := iv.Check(); err != nil {
			return nil, fmt.Errorf("%w: bounds proof: interval %d: %v", ErrInvalidProof, j, err)
		}
	}
	ch := &boundsChallenges{v: make([]element, m), nReal: 2 * boundsStatementBits * m, nPad: boundsPaddedLen(m)}
	for j := range commitments {
		var err error
		if ch.v[j], err = decodeElement(commitments[j][:]); err != nil {
			return nil, fmt.Errorf("%w: bounds proof: commitment %d: %v", ErrInvalidProof, j, err)
		}
	}
	tr := boundsTranscript(context, ch.v, bounds)
	tr.appendElement("A", &p.a)
	tr.appendElement("S", &p.s)
	ch.y = tr.challenge("y")
	ch.z = tr.challenge("z")
	if ch.y == (scalar{}) {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProof, errZeroChallenge)
	}
	tr.appendElement("T1", &p.t1)
	tr.appendElement("T2", &p.t2)
	ch.x = tr.challenge("x")
	tr.appendScalar("taux", &p.taux)
	tr.appendScalar("mu", &p.mu)
	tr.appendScalar("that", &p.tHat)
	ch.w = tr.challenge("w")
	for j := range p.l {
		tr.appendElement("L", &p.l[j])
		tr.appendElement("R", &p.r[j])
		ch.u = append(ch.u, tr.challenge("u"))
	}
	for j := range p.aFinal {
		tr.appendScalar("a", &p.aFinal[j])
		tr.appendScalar("b", &p.bFinal[j])
	}
	ch.omega = tr.challenge("verify.ipa")
	ch.digest = tr.challenge("verify.digest")
	return ch, nil
}

// boundsAcc accumulates the scalars of one verification MSM: one per
// generator (shared by every proof of a batch) and the proofs' own points.
type boundsAcc struct {
	g, h  []scalar
	b, hh scalar // B and H
	u     scalar
	pts   []ed.ExtendedPoint
	ptsSc []scalar
}

func newBoundsAcc(nPad int) *boundsAcc {
	return &boundsAcc{g: make([]scalar, nPad), h: make([]scalar, nPad)}
}

func (a *boundsAcc) point(p *ed.ExtendedPoint, s scalar) {
	a.pts = append(a.pts, *p)
	a.ptsSc = append(a.ptsSc, s)
}

// eval is the sum: one Pippenger over every generator and point.
func (a *boundsAcc) eval() ed.ExtendedPoint {
	n := len(a.g)
	g, h := boundsGenerators(n)
	total := 2*n + 3 + len(a.pts)
	pts := make([]ed.NielsPoint, 0, total)
	sc := make([]scalar, 0, total)
	pts = append(append(pts, g...), h...)
	sc = append(append(sc, a.g...), a.h...)
	pts = append(pts, store.B.ct[0], store.H.ct[0], *boundsU())
	sc = append(sc, a.b, a.hh, a.u)
	dyn := make([]ed.NielsPoint, len(a.pts))
	toNiels(dyn, a.pts)
	pts = append(pts, dyn...)
	sc = append(sc, a.ptsSc...)
	return pippenger(pts, sc)
}

// equations adds weight · (the proof's two verification equations, the
// second weighted by ω) to acc. The proof is valid iff the total is the
// identity, up to probability ≈2^-250 over the weights:
//
//	t̂:   t̂·B + τx·H = Σ_j (z^(2+2j) − z^(3+2j))·V_j
//	                  + (δ(y,z) + Σ_j (z^(3+2j)·Hi_j − z^(2+2j)·Lo_j))·B + x·T1 + x²·T2
//	IPA:  Πu·P + Σ_k Π_{i>k}u_i·(L_k + u_k²·R_k) = ⟨a, g_fin⟩ + ⟨b, h_fin⟩ + ⟨a, b⟩·wU
//
// with δ(y,z) = (z − z²)·Σ_{i<n} y^i − (2^64 − 1)·Σ_{s<2m} z^(3+s) and
// P = A + x·S − z·Σ_{i<n} g_i + Σ_{i<n} (z + z^(2+⌊i/64⌋)·2^(i mod 64)·y^-i)·h_i
// − μ·H + t̂·wU, n = 128·m the real length (positions n..nPad−1 are the
// zero padding and appear only on the right).
func (p *BoundsProof) equations(acc *boundsAcc, ch *boundsChallenges, bounds []Interval, weight scalar) {
	p.polyEquation(acc, ch, bounds, weight)
	p.ipaEquation(acc, ch, mul(&weight, &ch.omega))
}

// polyEquation adds w1 · (the t̂ equation) to acc.
func (p *BoundsProof) polyEquation(acc *boundsAcc, ch *boundsChallenges, bounds []Interval, w1 scalar) {
	var t, t2 scalar
	n := ch.nReal
	zs := boundsZPowers(&ch.z, n/boundsStatementBits) // z^(2+s)
	yPow := powers(&ch.y, n)
	var sumY, sumZ3 scalar
	for i := range yPow {
		sumY.Add(&sumY, &yPow[i])
	}
	for s := range zs {
		t.Mul(&zs[s], &ch.z)
		sumZ3.Add(&sumZ3, &t)
	}
	var delta scalar
	t.Mul(&ch.z, &ch.z)
	t.Sub(&ch.z, &t)
	delta.Mul(&t, &sumY)
	t2 = scalarFromUint64(^uint64(0))
	t.Mul(&sumZ3, &t2)
	delta.Sub(&delta, &t)
	bCoef := p.tHat // t̂ − δ − Σ_j (z^(3+2j)·Hi_j − z^(2+2j)·Lo_j)
	bCoef.Sub(&bCoef, &delta)
	for j := range bounds {
		lo, hi := scalarFromInt64(bounds[j].Lo), scalarFromInt64(bounds[j].Hi)
		t.Mul(&zs[2*j+1], &hi)
		bCoef.Sub(&bCoef, &t)
		bCoef.MulAdd(&zs[2*j], &lo, &bCoef)
		// V_j: −w1·(z^(2+2j) − z^(3+2j))
		t.Sub(&zs[2*j+1], &zs[2*j])
		acc.point(&ch.v[j].p, mul(&t, &w1))
	}
	acc.b.MulAdd(&w1, &bCoef, &acc.b)
	acc.hh.MulAdd(&w1, &p.taux, &acc.hh)
	t.Mul(&w1, &ch.x)
	acc.point(&p.t1.p, neg(&t))
	t.Mul(&t, &ch.x)
	acc.point(&p.t2.p, neg(&t))
}

// ipaEquation adds w2 · (the inner-product equation) to acc.
func (p *BoundsProof) ipaEquation(acc *boundsAcc, ch *boundsChallenges, w2 scalar) {
	var t, t2 scalar
	n, nPad := ch.nReal, ch.nPad
	zs := boundsZPowers(&ch.z, n/boundsStatementBits) // z^(2+s)
	uAll, uAfter := suffixProducts(ch.u)
	var wu scalar // w2·Πu
	wu.Mul(&w2, &uAll)
	acc.point(&p.a.p, wu)
	acc.point(&p.s.p, mul(&wu, &ch.x))
	for k := range p.l {
		t.Mul(&w2, &uAfter[k])
		acc.point(&p.l[k].p, t)
		t2.Mul(&ch.u[k], &ch.u[k])
		t2.Mul(&t2, &t)
		acc.point(&p.r[k].p, t2)
	}
	t.Mul(&wu, &p.mu)
	acc.hh.Sub(&acc.hh, &t)
	// U: w2·w·(Πu·t̂ − ⟨a, b⟩)
	t.Mul(&uAll, &p.tHat)
	t2 = innerProduct(p.aFinal, p.bFinal)
	t.Sub(&t, &t2)
	t.Mul(&t, &ch.w)
	acc.u.MulAdd(&t, &w2, &acc.u)

	sg, sh := foldProducts(ch.u)
	var yInv scalar
	yInv.Inverse(&ch.y)
	var wuz, zw, hc, yi scalar
	wuz.Mul(&wu, &ch.z)
	wa := make([]scalar, ipaFinal)
	wb := make([]scalar, ipaFinal)
	for i := range wa {
		wa[i].Mul(&w2, &p.aFinal[i])
		wb[i].Mul(&w2, &p.bFinal[i])
	}
	yi.SetOne()
	for j := 0; j < nPad; j++ {
		i, f := j%ipaFinal, j/ipaFinal
		// g_j: −w2·(Πu·z·[j < n] + a_i·sg_f)
		t.Mul(&wa[i], &sg[f])
		if j < n {
			t.Add(&t, &wuz)
		}
		acc.g[j].Sub(&acc.g[j], &t)
		// h_j: w2·(Πu·z·[j < n] + (Πu·z^(2+s)·2^(j mod 64)·[j < n] − b_i·sh_f)·y^-j)
		t.Mul(&wb[i], &sh[f])
		if j < n {
			if j%boundsStatementBits == 0 {
				zw.Mul(&wu, &zs[j/boundsStatementBits])
			} else {
				zw.Add(&zw, &zw)
			}
			hc.Sub(&zw, &t)
			hc.MulAdd(&hc, &yi, &wuz)
		} else {
			hc.Mul(&t, &yi)
			hc.Neg(&hc)
		}
		acc.h[j].Add(&acc.h[j], &hc)
		yi.Mul(&yi, &yInv)
	}
}
