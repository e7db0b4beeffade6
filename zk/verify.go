package zk

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Verify checks a proof that the model committed in commitment scores the
// public inputs x inside bucket, for this context. Every failure wraps
// ErrInvalidProof.
func Verify(params *Params, commitment Commitment, x []int64, bucket Bucket, context []byte, proof *Proof) error {
	ch, err := proof.replay(params, commitment, x, bucket, context)
	if err != nil {
		return err
	}
	var m msm
	proof.equations(&m, params, ch, x, bucket, scalarOne())
	if res := m.eval(); !isIdentity(&res) {
		return fmt.Errorf("%w: verification equations do not hold", ErrInvalidProof)
	}
	return nil
}

// BatchItem is one statement and proof for BatchVerify.
type BatchItem struct {
	Params     *Params
	Commitment Commitment
	X          []int64
	Bucket     Bucket
	Context    []byte
	Proof      *Proof
}

// BatchError says which item of a batch failed.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch item %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// BatchVerify checks many proofs at once, with one multi-scalar
// multiplication over a random linear combination of all their
// verification equations. The combination's weights are hashed from all
// the proofs (random-oracle model), so the result is deterministic — no
// randomness, fit for consensus code — and even whoever made every proof
// of the batch cannot make failing equations cancel, except with
// probability about 2^-250 per attempt. If the batch fails, the items are
// checked one by one and the first invalid one is reported as a
// *BatchError wrapping ErrInvalidProof.
func BatchVerify(items []BatchItem) error {
	if len(items) == 0 {
		return nil
	}
	// Replay every transcript first: the batch weights hash all of them.
	chs := make([]*challenges, len(items))
	for i := range items {
		it := &items[i]
		ch, err := it.Proof.replay(it.Params, it.Commitment, it.X, it.Bucket, it.Context)
		if err != nil {
			return &BatchError{Index: i, Err: err}
		}
		chs[i] = ch
	}
	bt := newTranscript("medchain/zk/batch")
	bt.appendUint64("count", uint64(len(items)))
	for _, ch := range chs {
		bt.appendScalar("proof", &ch.digest)
	}
	var m msm
	for i := range items {
		it := &items[i]
		it.Proof.equations(&m, it.Params, chs[i], it.X, it.Bucket, bt.challenge("weight"))
	}
	if res := m.eval(); isIdentity(&res) {
		return nil
	}
	for i := range items {
		it := &items[i]
		if err := Verify(it.Params, it.Commitment, it.X, it.Bucket, it.Context, it.Proof); err != nil {
			return &BatchError{Index: i, Err: err}
		}
	}
	// Unreachable unless a weight was zero (probability 2^-252).
	return errors.New("zk: batch failed but every proof verifies")
}

// challenges are the verifier's view of the transcript.
type challenges struct {
	c       element // the commitment, decoded
	linC    scalar
	linXi   scalar
	linU    []scalar
	y, z, x scalar
	w       scalar
	rpU     []scalar
	omega   [3]scalar // weights of the range t̂ check, score check and linear IPA
	digest  scalar
}

func (p *Proof) replay(params *Params, commitment Commitment, x []int64, bucket Bucket, context []byte) (*challenges, error) {
	if params == nil || p == nil {
		return nil, fmt.Errorf("%w: missing params or proof", ErrInvalidProof)
	}
	if len(x) != params.d {
		return nil, fmt.Errorf("%w: %d inputs for a %d-feature model", ErrInvalidProof, len(x), params.d)
	}
	k, f := linearShape(params.log)
	if len(p.linL) != k || len(p.linR) != k || len(p.linZ) != f ||
		len(p.rpL) != rangeRounds || len(p.rpR) != rangeRounds || len(p.rpAFin) != ipaFinal || len(p.rpBFin) != ipaFinal {
		return nil, fmt.Errorf("%w: proof shape does not match %d-feature parameters", ErrInvalidProof, params.d)
	}
	if err := bucket.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProof, err)
	}
	var ch challenges
	var err error
	if ch.c, err = decodeElement(commitment[:]); err != nil {
		return nil, fmt.Errorf("%w: commitment: %v", ErrInvalidProof, err)
	}
	tr := statementTranscript(params, &ch.c, &p.score, x, bucket, context)
	tr.appendElement("lin.A", &p.linA)
	tr.appendElement("lin.A2", &p.linA2)
	ch.linC = tr.challenge("lin.c")
	tr.appendScalar("lin.phi1", &p.linPhi1)
	tr.appendScalar("lin.phi2", &p.linPhi2)
	tr.appendScalar("lin.y", &p.linY)
	ch.linXi = tr.challenge("lin.xi")
	for j := range p.linL {
		tr.appendElement("lin.L", &p.linL[j])
		tr.appendElement("lin.R", &p.linR[j])
		ch.linU = append(ch.linU, tr.challenge("lin.u"))
	}
	tr.appendElement("rp.A", &p.rpA)
	tr.appendElement("rp.S", &p.rpS)
	ch.y = tr.challenge("rp.y")
	ch.z = tr.challenge("rp.z")
	if ch.y == (scalar{}) {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProof, errZeroChallenge)
	}
	tr.appendElement("rp.T1", &p.rpT1)
	tr.appendElement("rp.T2", &p.rpT2)
	ch.x = tr.challenge("rp.x")
	tr.appendScalar("rp.taux", &p.rpTaux)
	tr.appendScalar("rp.mu", &p.rpMu)
	tr.appendScalar("rp.that", &p.rpThat)
	ch.w = tr.challenge("rp.w")
	for j := range p.rpL {
		tr.appendElement("rp.L", &p.rpL[j])
		tr.appendElement("rp.R", &p.rpR[j])
		ch.rpU = append(ch.rpU, tr.challenge("rp.u"))
	}
	// The final scalars are absorbed too, so the verifier's weights (and a
	// batch's) depend on every byte of the proof.
	for j := range p.linZ {
		tr.appendScalar("lin.z", &p.linZ[j])
	}
	for j := range p.rpAFin {
		tr.appendScalar("rp.a", &p.rpAFin[j])
		tr.appendScalar("rp.b", &p.rpBFin[j])
	}
	ch.omega[0] = tr.challenge("verify.range-poly")
	ch.omega[1] = tr.challenge("verify.score")
	ch.omega[2] = tr.challenge("verify.linear-ipa")
	ch.digest = tr.challenge("verify.digest")
	return &ch, nil
}

// foldProducts returns, for k rounds folding a vector of length f·2^k down
// to f, left[i] = Π u_r over the rounds r in which the entries j with
// j/f = i were in the left half, right[i] = Π u_r over the rounds they
// were in the right half. In round r, j is in the left half iff bit k−1−r
// of j/f is 0.
func foldProducts(u []scalar) (left, right []scalar) {
	left, right = []scalar{scalarOne()}, []scalar{scalarOne()}
	for r := range u {
		nl, nr := make([]scalar, 2*len(left)), make([]scalar, 2*len(right))
		for i := range left {
			nl[2*i].Mul(&left[i], &u[r])
			nl[2*i+1] = left[i]
			nr[2*i] = right[i]
			nr[2*i+1].Mul(&right[i], &u[r])
		}
		left, right = nl, nr
	}
	return left, right
}

// suffixProducts returns Π u, and for each j, Π_{i>j} u_i.
func suffixProducts(u []scalar) (all scalar, after []scalar) {
	after = make([]scalar, len(u))
	acc := scalarOne()
	for j := len(u) - 1; j >= 0; j-- {
		after[j] = acc
		acc.Mul(&acc, &u[j])
	}
	return acc, after
}

// equations adds weight · (the proof's verification equations, each with
// its own transcript-derived weight) to m. The proof is valid iff the
// total is the identity, up to probability 2^-250 over the weights:
//
//	range t̂:   t̂·B + τx·H = z²·V1 + z³·V2 + δ(y,z)·B + x·T1 + x²·T2
//	range IPA:  Πu·P + Σ Π_{i>j}u_i·(L_j + u_j²·R_j) = ⟨a, g_fin⟩ + ⟨b, h_fin⟩ + ⟨a, b⟩·wU
//	score:      y·B + φ2·H = A2 + c·S
//	linear IPA: Πv·Q + Σ Π_{i>j}v_i·(L_j + v_j²·R_j) = ⟨z, G_fin⟩ + ⟨z, x_fin⟩·ξU
//
// with V1 = S − lo·B, V2 = (hi−1)·B − S, P = A + x·S − z·⟨1, g⟩ +
// ⟨z·1 + z^(2+j)·2^i·y^-i, h⟩ − μ·H + t̂·wU, Q = A + c·C − φ1·H + ξ·y·U.
//
// ch must come from p.replay for the same statement.
func (p *Proof) equations(m *msm, params *Params, ch *challenges, x []int64, bucket Bucket, weight scalar) {
	var w1, w3, w4, t, t2 scalar
	w1.Mul(&weight, &ch.omega[0])
	w3.Mul(&weight, &ch.omega[1])
	w4.Mul(&weight, &ch.omega[2])
	w2 := weight
	var sCoef scalar // S appears in two equations

	// Range t̂ check.
	var z2, z3, z4 scalar
	z2.Mul(&ch.z, &ch.z)
	z3.Mul(&z2, &ch.z)
	z4.Mul(&z3, &ch.z)
	yPow := powers(&ch.y, rangeLen)
	var sumY scalar
	for i := range yPow {
		sumY.Add(&sumY, &yPow[i])
	}
	var delta scalar
	t.Sub(&ch.z, &z2)
	delta.Mul(&t, &sumY)
	t.Add(&z3, &z4)
	t2 = scalarFromUint64(^uint64(0)) // ⟨1, 2^n⟩ = 2^64 − 1
	t.Mul(&t, &t2)
	delta.Sub(&delta, &t)
	lo := scalarFromInt64(bucket.Lo)
	hiM1 := scalarFromInt64(bucket.Hi - 1)
	var bCoef scalar // t̂ − δ − z³(hi−1) + z²·lo
	bCoef.Sub(&p.rpThat, &delta)
	t.Mul(&z3, &hiM1)
	bCoef.Sub(&bCoef, &t)
	bCoef.MulAdd(&z2, &lo, &bCoef)
	m.addFixed(store.B, mul(&w1, &bCoef))
	m.addFixed(store.H, mul(&w1, &p.rpTaux))
	t.Sub(&z2, &z3)
	t.Mul(&t, &w1)
	sCoef.Sub(&sCoef, &t)
	t.Mul(&w1, &ch.x)
	m.addPoint(&p.rpT1.p, neg(&t))
	t.Mul(&t, &ch.x)
	m.addPoint(&p.rpT2.p, neg(&t))

	// Range inner-product argument.
	uAll, uAfter := suffixProducts(ch.rpU)
	var wu scalar // w2·Πu
	wu.Mul(&w2, &uAll)
	m.addPoint(&p.rpA.p, wu)
	m.addPoint(&p.rpS.p, mul(&wu, &ch.x))
	for j := range p.rpL {
		t.Mul(&w2, &uAfter[j])
		m.addPoint(&p.rpL[j].p, t)
		t2.Mul(&ch.rpU[j], &ch.rpU[j])
		t2.Mul(&t2, &t)
		m.addPoint(&p.rpR[j].p, t2)
	}
	sg, sh := foldProducts(ch.rpU)
	var yInv scalar
	yInv.Inverse(&ch.y)
	yInvPow := powers(&yInv, rangeLen)
	var wuz, hc scalar
	wuz.Mul(&wu, &ch.z)
	wa := make([]scalar, ipaFinal)
	wb := make([]scalar, ipaFinal)
	for i := range wa {
		wa[i].Mul(&w2, &p.rpAFin[i])
		wb[i].Mul(&w2, &p.rpBFin[i])
	}
	var zw scalar // Πu·w2·z^(2+⌊j/64⌋)·2^(j mod 64), doubled along the way
	for j := 0; j < rangeLen; j++ {
		i, f := j%ipaFinal, j/ipaFinal
		// g_j: −w2·(Πu·z + a_i·sg_f)
		t.MulAdd(&wa[i], &sg[f], &wuz)
		m.addFixed(store.g[j], neg(&t))
		// h_j: w2·(Πu·(z + z^(2+⌊j/64⌋)·2^(j mod 64)·y^-j) − b_i·sh_f·y^-j)
		switch j {
		case 0:
			zw.Mul(&wu, &z2)
		case RangeBits:
			zw.Mul(&wu, &z3)
		default:
			zw.Add(&zw, &zw)
		}
		t.Mul(&wb[i], &sh[f])
		hc.Sub(&zw, &t)
		hc.MulAdd(&hc, &yInvPow[j], &wuz)
		m.addFixed(store.h[j], hc)
	}
	t.Mul(&wu, &p.rpMu)
	m.addFixed(store.H, neg(&t))
	// U: w2·w·(Πu·t̂ − ⟨a, b⟩)
	t.Mul(&uAll, &p.rpThat)
	t2 = innerProduct(p.rpAFin, p.rpBFin)
	t.Sub(&t, &t2)
	t.Mul(&t, &ch.w)
	m.addFixed(store.U, mul(&t, &w2))

	// Score: y·B + φ2·H − A2 − c·S = 0.
	m.addFixed(store.B, mul(&w3, &p.linY))
	m.addFixed(store.H, mul(&w3, &p.linPhi2))
	m.addPoint(&p.linA2.p, neg(&w3))
	t.Mul(&w3, &ch.linC)
	sCoef.Sub(&sCoef, &t)
	m.addPoint(&p.score.p, sCoef)

	// Linear inner-product argument.
	vAll, vAfter := suffixProducts(ch.linU)
	var wv scalar // w4·Πv
	wv.Mul(&w4, &vAll)
	m.addPoint(&p.linA.p, wv)
	m.addPoint(&ch.c.p, mul(&wv, &ch.linC))
	t.Mul(&wv, &p.linPhi1)
	m.addFixed(store.H, neg(&t))
	for j := range p.linL {
		t.Mul(&w4, &vAfter[j])
		m.addPoint(&p.linL[j].p, t)
		t2.Mul(&ch.linU[j], &ch.linU[j])
		t2.Mul(&t2, &t)
		m.addPoint(&p.linR[j].p, t2)
	}
	sG, _ := foldProducts(ch.linU)
	xv := inputVector(x, params.n)
	f := len(p.linZ)
	xFin := make([]scalar, f) // the folded x: Σ_{j ≡ i mod f} sG_{j/f}·x_j
	wz := make([]scalar, f)
	for i := range wz {
		wz[i].Mul(&w4, &p.linZ[i])
	}
	for j := range xv {
		i, k := j%f, j/f
		xFin[i].MulAdd(&sG[k], &xv[j], &xFin[i])
		t.Mul(&wz[i], &sG[k])
		m.addFixed(params.G[j], neg(&t))
	}
	// U: w4·ξ·(Πv·y − ⟨z, x_fin⟩)
	t.Mul(&vAll, &p.linY)
	t2 = innerProduct(p.linZ, xFin)
	t.Sub(&t, &t2)
	t.Mul(&t, &ch.linXi)
	m.addFixed(store.U, mul(&t, &w4))
}

func mul(a, b *scalar) scalar {
	var s scalar
	s.Mul(a, b)
	return s
}

func neg(a *scalar) scalar {
	var s scalar
	s.Neg(a)
	return s
}

// NewContext encodes what a proof is for — the chain, the model and the
// request — as the context bytes Prove and Verify bind: each field is
// length-prefixed so no two different triples share an encoding.
func NewContext(chainID, modelID, requestID string) []byte {
	out := []byte("medchain/zk/context/v1")
	for _, f := range []string{chainID, modelID, requestID} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}
