package zk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

const (
	protocolName    = "medchain/zk/prediction"
	protocolVersion = 1
	groupName       = "ristretto255"
)

// twoPow[i] = 2^i for i < RangeBits.
var twoPow = func() []scalar {
	p := make([]scalar, RangeBits)
	for i := range p {
		p[i] = scalarFromUint64(1 << i)
	}
	return p
}()

// statementTranscript starts the transcript by absorbing, in order, the
// protocol, group, generators, dimensions and the statement itself.
func statementTranscript(params *Params, c, score *element, x []int64, b Bucket, context []byte) *transcript {
	t := newTranscript(protocolName)
	t.appendUint64("version", protocolVersion)
	t.appendMessage("group", []byte(groupName))
	t.appendMessage("generators", params.digest[:])
	t.appendUint64("features", uint64(params.d))
	t.appendUint64("padded-length", uint64(params.n))
	t.appendUint64("range-bits", RangeBits)
	t.appendUint64("range-values", rangeValues)
	t.appendElement("commitment", c)
	t.appendElement("score", score)
	t.appendMessage("inputs", encodeInputs(x))
	t.appendUint64("lo", uint64(b.Lo))
	t.appendUint64("hi", uint64(b.Hi))
	t.appendMessage("context", context)
	return t
}

// encodeInputs is x as big-endian two's-complement int64s.
func encodeInputs(x []int64) []byte {
	out := make([]byte, 0, 8*len(x))
	for _, v := range x {
		out = binary.BigEndian.AppendUint64(out, uint64(v))
	}
	return out
}

// proverRNG derives every random scalar of a proof from 64 fresh bytes
// *and* the witness and statement (hedged randomness): a reader that
// repeats itself then produces identical proofs of identical statements,
// never two different proofs sharing masks, which would leak w.
type proverRNG struct{ t *transcript }

func newProverRNG(rand io.Reader, o *Opening, c Commitment, x []int64, b Bucket, context []byte) (*proverRNG, error) {
	var seed [64]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("zk: reading randomness: %w", err)
	}
	t := newTranscript("medchain/zk/prover-rng")
	t.appendMessage("seed", seed[:])
	t.appendMessage("blinding", o.Blinding[:])
	t.appendUint64("intercept", uint64(o.Intercept))
	t.appendMessage("weights", encodeInputs(o.Weights))
	t.appendMessage("commitment", c[:])
	t.appendMessage("inputs", encodeInputs(x))
	t.appendUint64("lo", uint64(b.Lo))
	t.appendUint64("hi", uint64(b.Hi))
	t.appendMessage("context", context)
	return &proverRNG{t: t}, nil
}

func (r *proverRNG) scalar() scalar { return r.t.challenge("draw") }

func (r *proverRNG) scalars(n int) []scalar {
	out := make([]scalar, n)
	for i := range out {
		out[i] = r.scalar()
	}
	return out
}

var errZeroChallenge = errors.New("zk: zero challenge (probability 2^-252)")

// Prove proves that the model committed in commitment, opened by opening,
// scores the public inputs x (quantised, len(x) = params.Features()) inside
// bucket. context binds the proof to its use (see NewContext). rand must be
// a cryptographically secure source; Prove reads 64 bytes from it.
//
// Prove refuses (ErrOutsideBucket) when the score is not in the bucket and
// (ErrOpeningMismatch) when the opening does not open the commitment.
func Prove(params *Params, opening Opening, commitment Commitment, x []int64, bucket Bucket, context []byte, rand io.Reader) (*Proof, error) {
	if params == nil {
		return nil, fmt.Errorf("%w: nil params", ErrDimension)
	}
	d := params.d
	if len(x) != d || len(opening.Weights) != d {
		return nil, fmt.Errorf("%w: params for %d features, %d inputs, %d weights", ErrDimension, d, len(x), len(opening.Weights))
	}
	if err := bucket.Check(); err != nil {
		return nil, err
	}
	cEl, err := decodeElement(commitment[:])
	if err != nil {
		return nil, fmt.Errorf("%w: commitment: %v", ErrEncoding, err)
	}
	r, err := decodeScalar(opening.Blinding[:])
	if err != nil {
		return nil, fmt.Errorf("%w: blinding: %v", ErrEncoding, err)
	}
	score, ok := exactScore(opening.Weights, opening.Intercept, x).int64()
	if !ok || !bucket.Contains(score) {
		return nil, ErrOutsideBucket
	}
	rng, err := newProverRNG(rand, &opening, commitment, x, bucket, context)
	if err != nil {
		return nil, err
	}
	return prove(params, opening.weightVector(), &r, &cEl, x, bucket, context, rng, score)
}

// prove runs the protocol for a claimed score. Prove only calls it with
// the true score inside the bucket; tests call it with lies, to check
// that verification catches them.
func prove(params *Params, w []scalar, r *scalar, cEl *element, x []int64, bucket Bucket, context []byte, rng *proverRNG, score int64) (*Proof, error) {
	d, n := params.d, params.n
	// Randomness, drawn in this order (the test vectors depend on it).
	tScore := rng.scalar()
	alpha := rng.scalars(d + 1)
	rho1, rho2 := rng.scalar(), rng.scalar()
	alphaR, rhoR := rng.scalar(), rng.scalar()
	sL, sR := rng.scalars(rangeLen), rng.scalars(rangeLen)
	tau1, tau2 := rng.scalar(), rng.scalar()

	pf := &Proof{}

	// Range: score − lo and hi − 1 − score in [0, 2^64), committed as
	// V1 = S − lo·B (blinding t) and V2 = (hi−1)·B − S (blinding −t). The
	// commitments A and S of the bits need no challenge, so the second
	// core computes them while this one runs the linear argument.
	v := [rangeValues]uint64{uint64(score) - uint64(bucket.Lo), uint64(bucket.Hi) - 1 - uint64(score)}
	aBits := make([]uint8, rangeLen)
	for j := range v {
		for i := 0; i < RangeBits; i++ {
			aBits[j*RangeBits+i] = uint8(v[j]>>i) & 1
		}
	}
	rangeCommitted := make(chan struct{})
	go func() {
		defer close(rangeCommitted)
		ar := ctBitSelectSum(store.g, store.h, aBits)
		ah := ctFixedBase(store.tabH, &alphaR)
		addExtended(&ar, &ah)
		pf.rpA = newElement(&ar)
		sr := ctMSM(store.gh, append(append(make([]scalar, 0, 2*rangeLen), sL...), sR...))
		sh := ctFixedBase(store.tabH, &rhoR)
		addExtended(&sr, &sh)
		pf.rpS = newElement(&sr)
	}()
	one := scalarOne()
	s := scalarFromInt64(score)
	pf.score = newElement(pedersen(&s, &tScore))
	tr := statementTranscript(params, cEl, &pf.score, x, bucket, context)

	// Linear relation: knowledge of (w, r, t) with C = ⟨w, G⟩ + r·H and
	// S = ⟨w, x⟩·B + t·H.
	xv := inputVector(x, n)
	A := ctMSM(params.G[:d+1], alpha)
	rh := ctFixedBase(store.tabH, &rho1)
	addExtended(&A, &rh)
	pf.linA = newElement(&A)
	ax := innerProduct(alpha, xv[:d+1])
	pf.linA2 = newElement(pedersen(&ax, &rho2))
	tr.appendElement("lin.A", &pf.linA)
	tr.appendElement("lin.A2", &pf.linA2)
	c := tr.challenge("lin.c")

	z := make([]scalar, n)
	for i := 0; i <= d; i++ {
		z[i].MulAdd(&c, &w[i], &alpha[i])
	}
	pf.linPhi1.MulAdd(&c, r, &rho1)
	pf.linPhi2.MulAdd(&c, &tScore, &rho2)
	// The opening must open the commitment: check the sigma protocol's own
	// equation ⟨z, G⟩ + φ1·H = A + c·C. z and φ1 are responses the
	// uncompressed protocol publishes (uniformly masked by α and ρ1), so
	// this costs a variable-time MSM instead of a constant-time
	// recomputation of C.
	var chk msm
	for i := 0; i <= d; i++ {
		chk.addFixed(params.G[i], z[i])
	}
	chk.addFixed(store.H, pf.linPhi1)
	chk.addPoint(&A, neg(&one))
	chk.addPoint(&cEl.p, neg(&c))
	if res := chk.eval(); !isIdentity(&res) {
		<-rangeCommitted
		return nil, ErrOpeningMismatch
	}
	pf.linY = innerProduct(z, xv)
	tr.appendScalar("lin.phi1", &pf.linPhi1)
	tr.appendScalar("lin.phi2", &pf.linPhi2)
	tr.appendScalar("lin.y", &pf.linY)
	xi := tr.challenge("lin.xi")
	pf.linL, pf.linR, pf.linZ = proveLinearIPA(tr, params.G, z, xv, &xi)

	<-rangeCommitted
	tr.appendElement("rp.A", &pf.rpA)
	tr.appendElement("rp.S", &pf.rpS)
	y := tr.challenge("rp.y")
	zc := tr.challenge("rp.z")
	if y == (scalar{}) {
		return nil, errZeroChallenge
	}

	var z2, z3 scalar
	z2.Mul(&zc, &zc)
	z3.Mul(&z2, &zc)
	yPow := powers(&y, rangeLen)
	l0 := make([]scalar, rangeLen)
	r0 := make([]scalar, rangeLen)
	r1 := make([]scalar, rangeLen)
	var t1, t2, tmp scalar
	for i := 0; i < rangeLen; i++ {
		aL := scalarFromUint64(uint64(aBits[i]))
		var aRz scalar
		aRz.Sub(&aL, &one)
		aRz.Add(&aRz, &zc)
		l0[i].Sub(&aL, &zc)
		zj := &z2
		if i >= RangeBits {
			zj = &z3
		}
		tmp.Mul(zj, &twoPow[i%RangeBits])
		r0[i].MulAdd(&yPow[i], &aRz, &tmp)
		r1[i].Mul(&yPow[i], &sR[i])
		tmp.Mul(&l0[i], &r1[i])
		t1.Add(&t1, &tmp)
		tmp.Mul(&sL[i], &r0[i])
		t1.Add(&t1, &tmp)
		tmp.Mul(&sL[i], &r1[i])
		t2.Add(&t2, &tmp)
	}
	pf.rpT1 = newElement(pedersen(&t1, &tau1))
	pf.rpT2 = newElement(pedersen(&t2, &tau2))
	tr.appendElement("rp.T1", &pf.rpT1)
	tr.appendElement("rp.T2", &pf.rpT2)
	e := tr.challenge("rp.x")

	lv := make([]scalar, rangeLen)
	rv := make([]scalar, rangeLen)
	for i := range lv {
		lv[i].MulAdd(&e, &sL[i], &l0[i])
		rv[i].MulAdd(&e, &r1[i], &r0[i])
	}
	pf.rpThat = innerProduct(lv, rv)
	var zz scalar
	zz.Sub(&z2, &z3)
	pf.rpTaux.Mul(&tau2, &e)
	pf.rpTaux.Add(&pf.rpTaux, &tau1)
	pf.rpTaux.Mul(&pf.rpTaux, &e)
	tmp.Mul(&zz, &tScore)
	pf.rpTaux.Add(&pf.rpTaux, &tmp)
	pf.rpMu.MulAdd(&rhoR, &e, &alphaR)
	tr.appendScalar("rp.taux", &pf.rpTaux)
	tr.appendScalar("rp.mu", &pf.rpMu)
	tr.appendScalar("rp.that", &pf.rpThat)
	wu := tr.challenge("rp.w")

	var yInv scalar
	yInv.Inverse(&y)
	pf.rpL, pf.rpR, pf.rpAFin, pf.rpBFin = proveRangeIPA(tr, lv, rv, powers(&yInv, rangeLen), &wu)
	return pf, nil
}

// evalPair evaluates two multi-scalar multiplications on two cores.
func evalPair(a, b *msm) (ed.ExtendedPoint, ed.ExtendedPoint) {
	var pa ed.ExtendedPoint
	done := make(chan struct{})
	go func() {
		pa = a.eval()
		close(done)
	}()
	pb := b.eval()
	<-done
	return pa, pb
}

// pedersen is v·B + r·H in constant time.
func pedersen(v, r *scalar) *ed.ExtendedPoint {
	p := ctFixedBase(store.tabB, v)
	q := ctFixedBase(store.tabH, r)
	addExtended(&p, &q)
	return &p
}

func innerProduct(a, b []scalar) scalar {
	var acc, t scalar
	for i := range a {
		t.Mul(&a[i], &b[i])
		acc.Add(&acc, &t)
	}
	return acc
}

// powers returns 1, x, x², …, x^(n−1).
func powers(x *scalar, n int) []scalar {
	out := make([]scalar, n)
	out[0].SetOne()
	for i := 1; i < n; i++ {
		out[i].Mul(&out[i-1], x)
	}
	return out
}

func ones(n int) []scalar {
	out := make([]scalar, n)
	for i := range out {
		out[i].SetOne()
	}
	return out
}

// ipaFinal is the length at which both inner-product arguments stop
// folding and send their vectors: two fewer rounds for four (range) or
// three (linear) more scalars, which is smaller and faster than folding
// down to one.
const ipaFinal = 4

// finalLen is the length of the vector an argument over n entries ends with.
func finalLen(n int) int { return min(n, ipaFinal) }

// proveLinearIPA proves knowledge of z with Q = ⟨z, G⟩ + ⟨z, x⟩·ξU. Each
// round halves the vectors: z' = z_L + u·z_R, x' = u·x_L + x_R,
// G' = u·G_L + G_R, with L = ⟨z_L, G_R⟩ + ⟨z_L, x_R⟩·ξU and
// R = ⟨z_R, G_L⟩ + ⟨z_R, x_L⟩·ξU, so Q' = L + u·Q + u²·R.
//
// Folded generators are never materialised: each G'_i is tracked as a
// combination of the original generators (coefficient cG_j), and L and R
// are multi-scalar multiplications over the originals' precomputed
// tables. z is the response of a sigma protocol, public in its
// uncompressed form, so variable-time arithmetic is fine here.
func proveLinearIPA(tr *transcript, G []*fixedGen, z, x []scalar, xi *scalar) (L, R []element, zFinal []scalar) {
	N := len(z)
	z = append([]scalar(nil), z...)
	x = append([]scalar(nil), x...)
	cG := ones(N)
	var tmp, u scalar
	for n := N; n > finalLen(N); n /= 2 {
		h := n / 2
		var ml, mr msm
		for j := 0; j < N; j++ {
			i := j % n
			if i >= h {
				tmp.Mul(&z[i-h], &cG[j])
				ml.addFixed(G[j], tmp)
			} else {
				tmp.Mul(&z[i+h], &cG[j])
				mr.addFixed(G[j], tmp)
			}
		}
		cl := innerProduct(z[:h], x[h:n])
		cl.Mul(&cl, xi)
		ml.addFixed(store.U, cl)
		cr := innerProduct(z[h:n], x[:h])
		cr.Mul(&cr, xi)
		mr.addFixed(store.U, cr)
		lp, rp := evalPair(&ml, &mr)
		L = append(L, newElement(&lp))
		R = append(R, newElement(&rp))
		tr.appendElement("lin.L", &L[len(L)-1])
		tr.appendElement("lin.R", &R[len(R)-1])
		u = tr.challenge("lin.u")
		for i := 0; i < h; i++ {
			z[i].MulAdd(&u, &z[i+h], &z[i])
			x[i].MulAdd(&u, &x[i], &x[i+h])
		}
		for j := 0; j < N; j++ {
			if j%n < h {
				cG[j].Mul(&cG[j], &u)
			}
		}
	}
	return L, R, z[:finalLen(N)]
}

// proveRangeIPA proves knowledge of a, b with
// P = ⟨a, g⟩ + ⟨b, h'⟩ + ⟨a, b⟩·wU, where h'_i = y^-i·h_i. Rounds fold
// a' = a_L + u·a_R, b' = u·b_L + b_R, g' = u·g_L + g_R, h' = h_L + u·h_R,
// with L = ⟨a_L, g_R⟩ + ⟨b_R, h'_L⟩ + ⟨a_L, b_R⟩·wU and
// R = ⟨a_R, g_L⟩ + ⟨b_L, h'_R⟩ + ⟨a_R, b_L⟩·wU. As in the linear argument
// the folded generators stay implicit. a and b are Bulletproofs' l(x) and
// r(x), which its unoptimised protocol sends in the clear.
func proveRangeIPA(tr *transcript, a, b, yInv []scalar, w *scalar) (L, R []element, aFinal, bFinal []scalar) {
	N := len(a)
	a = append([]scalar(nil), a...)
	b = append([]scalar(nil), b...)
	cg := ones(N)
	ch := append([]scalar(nil), yInv...)
	var tmp, u scalar
	for n := N; n > ipaFinal; n /= 2 {
		h := n / 2
		var ml, mr msm
		for j := 0; j < N; j++ {
			i := j % n
			if i >= h {
				tmp.Mul(&a[i-h], &cg[j])
				ml.addFixed(store.g[j], tmp)
				tmp.Mul(&b[i-h], &ch[j])
				mr.addFixed(store.h[j], tmp)
			} else {
				tmp.Mul(&a[i+h], &cg[j])
				mr.addFixed(store.g[j], tmp)
				tmp.Mul(&b[i+h], &ch[j])
				ml.addFixed(store.h[j], tmp)
			}
		}
		cl := innerProduct(a[:h], b[h:n])
		cl.Mul(&cl, w)
		ml.addFixed(store.U, cl)
		cr := innerProduct(a[h:n], b[:h])
		cr.Mul(&cr, w)
		mr.addFixed(store.U, cr)
		lp, rp := evalPair(&ml, &mr)
		L = append(L, newElement(&lp))
		R = append(R, newElement(&rp))
		tr.appendElement("rp.L", &L[len(L)-1])
		tr.appendElement("rp.R", &R[len(R)-1])
		u = tr.challenge("rp.u")
		for i := 0; i < h; i++ {
			a[i].MulAdd(&u, &a[i+h], &a[i])
			b[i].MulAdd(&u, &b[i], &b[i+h])
		}
		for j := 0; j < N; j++ {
			if j%n < h {
				cg[j].Mul(&cg[j], &u)
			} else {
				ch[j].Mul(&ch[j], &u)
			}
		}
	}
	return L, R, a[:ipaFinal], b[:ipaFinal]
}
