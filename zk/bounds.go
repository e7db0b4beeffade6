package zk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// Bounds proofs: a site commits to each value of a vector of int64s with
// caller-chosen blindings, V_j = v_j·B + r_j·H (CommitValues), and proves
// in one proof that Lo_j ≤ v_j ≤ Hi_j for every j (ProveBounds,
// VerifyBounds). Commitments of many sites whose blindings cancel add up
// to the aggregate (SumOpensTo). README.md, "Bounds proofs", has the
// construction.

const (
	// MaxBoundsValues is the most values one bounds proof covers. The
	// proof's vectors are 128·m bits padded to a power of two, so this
	// cap is what bounds the generator set (see bounds_gens.go).
	MaxBoundsValues = 512

	boundsProtocol = "medchain/zk/bounds"
	boundsVersion  = 1
	// boundsProofTag is the first byte of an encoded bounds proof: format
	// version 1, distinct from the prediction proof's 0x01.
	boundsProofTag = 0xb1
	// boundsStatementBits is the bit length of each of the two range
	// statements per value.
	boundsStatementBits = RangeBits
	// maxBoundsLen is the longest padded bit vector: 2·64·MaxBoundsValues.
	maxBoundsLen = 2 * boundsStatementBits * MaxBoundsValues
	// boundsFixedItems counts the 32-byte items every bounds proof has: A,
	// S, T1, T2, τx, μ, t̂ and the final a_0..a_3, b_0..b_3.
	boundsFixedItems = 7 + 2*ipaFinal
)

var (
	// ErrOutOfBounds: a value lies outside its interval, so ProveBounds
	// has nothing true to prove.
	ErrOutOfBounds = errors.New("zk: value outside its interval")

	// ErrInterval: an interval is empty (Lo > Hi).
	ErrInterval = errors.New("zk: invalid interval")

	// ErrSumMismatch: SumOpensTo found commitments that do not add up to
	// the claimed aggregate.
	ErrSumMismatch = errors.New("zk: commitments do not sum to the aggregate")
)

// Interval is the closed integer range [Lo, Hi]. Every non-empty int64
// interval is at most 2^64 − 1 wide, which is what the proof's two 64-bit
// range statements need.
type Interval struct {
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
}

// Check refuses empty intervals.
func (iv Interval) Check() error {
	if iv.Lo > iv.Hi {
		return fmt.Errorf("%w: [%d, %d] is empty", ErrInterval, iv.Lo, iv.Hi)
	}
	return nil
}

// Contains reports whether Lo ≤ v ≤ Hi.
func (iv Interval) Contains(v int64) bool { return iv.Lo <= v && v <= iv.Hi }

// Width is Hi − Lo (for a non-empty interval, exact in uint64).
func (iv Interval) Width() uint64 { return uint64(iv.Hi) - uint64(iv.Lo) }

// boundsPaddedLen is the length of the proof's bit vectors for m values:
// 2·64·m rounded up to a power of two.
func boundsPaddedLen(m int) int {
	return 2 * boundsStatementBits << bits.Len(uint(m-1))
}

// boundsRounds is the number of inner-product rounds for m values.
func boundsRounds(m int) int {
	return bits.TrailingZeros(uint(boundsPaddedLen(m))) - bits.TrailingZeros(ipaFinal)
}

// BoundsProofSize is the encoded size of a bounds proof for m values
// (1 ≤ m ≤ MaxBoundsValues): 1 + 32·(15 + 2k) bytes with k = log2 of the
// padded length minus 2 — 801 bytes for m = 1, 1185 for m = 33..64, 1313
// for m = 129..256, 1377 for m = 257..512.
func BoundsProofSize(m int) int {
	return 1 + pointLen*(boundsFixedItems+2*boundsRounds(m))
}

// CommitValue returns v·B + r·H, with negative v as ℓ − |v|, in constant
// time. r must be canonical, and the commitment must not be the identity
// (v = 0 with r = 0), which no decoder of the package accepts.
func CommitValue(v int64, r Scalar) (Commitment, error) {
	cs, err := CommitValues([]int64{v}, []Scalar{r})
	if err != nil {
		return Commitment{}, err
	}
	return cs[0], nil
}

// CommitValues commits to each value with its blinding: values[j]·B +
// blindings[j]·H (see CommitValue).
func CommitValues(values []int64, blindings []Scalar) ([]Commitment, error) {
	els, err := commitValues(values, blindings)
	if err != nil {
		return nil, err
	}
	out := make([]Commitment, len(els))
	for j := range els {
		out[j] = els[j].enc
	}
	return out, nil
}

func commitValues(values []int64, blindings []Scalar) ([]element, error) {
	if len(values) != len(blindings) {
		return nil, fmt.Errorf("%w: %d values, %d blindings", ErrDimension, len(values), len(blindings))
	}
	initStore()
	out := make([]element, len(values))
	for j, v := range values {
		r, err := blindings[j].canonical()
		if err != nil {
			return nil, fmt.Errorf("%w: blinding %d: %v", ErrEncoding, j, err)
		}
		s := scalarFromInt64(v)
		out[j] = newElement(pedersen(&s, &r))
		if out[j].enc == zeroEncoding {
			return nil, fmt.Errorf("%w: commitment %d is the identity (value 0 with blinding 0)", ErrEncoding, j)
		}
	}
	return out, nil
}

// BoundsProof proves that each of m committed values lies in its
// interval. Its wire form is MarshalBinary's, its text form (JSON) that in
// standard base64.
type BoundsProof struct {
	a, s, t1, t2   element
	taux, mu, tHat scalar
	l, r           []element // one pair per inner-product round
	aFinal, bFinal []scalar  // ipaFinal each
}

// Size is the length of the binary encoding.
func (p *BoundsProof) Size() int { return 1 + pointLen*(boundsFixedItems+2*len(p.l)) }

// boundsTranscript starts the transcript: protocol, group, generators,
// dimensions, then the statement (context, commitments, intervals).
func boundsTranscript(context []byte, commitments []element, bounds []Interval) *transcript {
	m := len(commitments)
	t := newTranscript(boundsProtocol)
	t.appendUint64("version", boundsVersion)
	t.appendMessage("group", []byte(groupName))
	t.appendMessage("generators", []byte(boundsGeneratorScheme))
	t.appendUint64("range-bits", boundsStatementBits)
	t.appendUint64("values", uint64(m))
	t.appendUint64("padded-length", uint64(boundsPaddedLen(m)))
	t.appendMessage("context", context)
	enc := make([]byte, 0, pointLen*m)
	for j := range commitments {
		enc = append(enc, commitments[j].enc[:]...)
	}
	t.appendMessage("commitments", enc)
	t.appendMessage("bounds", encodeIntervals(bounds))
	return t
}

// encodeIntervals is Lo ‖ Hi of each interval as big-endian
// two's-complement int64s.
func encodeIntervals(bounds []Interval) []byte {
	out := make([]byte, 0, 16*len(bounds))
	for _, iv := range bounds {
		out = binary.BigEndian.AppendUint64(out, uint64(iv.Lo))
		out = binary.BigEndian.AppendUint64(out, uint64(iv.Hi))
	}
	return out
}

func checkBoundsShape(m, other int, what string) error {
	if m < 1 || m > MaxBoundsValues {
		return fmt.Errorf("%w: %d values, want 1..%d", ErrDimension, m, MaxBoundsValues)
	}
	if other != m {
		return fmt.Errorf("%w: %d values, %d %s", ErrDimension, m, other, what)
	}
	return nil
}

// ProveBounds proves, for the commitments V_j = CommitValues(values,
// blindings), that bounds[j].Lo ≤ values[j] ≤ bounds[j].Hi for every j
// (1 ≤ m ≤ MaxBoundsValues). context is bound into the proof (the caller
// passes what identifies the contribution: chain, job, round, iteration,
// site). rand must be a cryptographically secure source; ProveBounds reads
// 64 bytes from it and hedges them with the witness, so a repeating source
// yields identical proofs of identical statements, never masks shared
// between different ones.
//
// ProveBounds refuses with ErrOutOfBounds (naming the index, not the
// value) when a value is outside its interval, ErrInterval for an empty
// interval, ErrDimension for mismatched lengths and ErrEncoding for a
// non-canonical blinding or an identity commitment. It uses two
// goroutines.
func ProveBounds(context []byte, values []int64, blindings []Scalar, bounds []Interval, rand io.Reader) (*BoundsProof, error) {
	m := len(values)
	if err := checkBoundsShape(m, len(bounds), "intervals"); err != nil {
		return nil, err
	}
	for j, iv := range bounds {
		if err := iv.Check(); err != nil {
			return nil, fmt.Errorf("interval %d: %w", j, err)
		}
	}
	vs, err := commitValues(values, blindings)
	if err != nil {
		return nil, err
	}
	for j, v := range values {
		if !bounds[j].Contains(v) {
			return nil, fmt.Errorf("%w: index %d", ErrOutOfBounds, j)
		}
	}
	stmt, gamma := boundsStatements(values, blindings, bounds)
	var seed [64]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("zk: reading randomness: %w", err)
	}
	rng := boundsProverRNG(seed, values, blindings, vs, bounds, context)
	tr := boundsTranscript(context, vs, bounds)
	return proveBounds(tr, rng, stmt, gamma)
}

// boundsStatements turns m values into the 2m range statements the proof
// is about: s_2j = v_j − Lo_j with blinding r_j (committed in V_j − Lo_j·B)
// and s_2j+1 = Hi_j − v_j with blinding −r_j (in Hi_j·B − V_j). For values
// in their intervals both differences are in [0, 2^64), so uint64
// subtraction computes them exactly.
func boundsStatements(values []int64, blindings []Scalar, bounds []Interval) ([]uint64, []scalar) {
	stmt := make([]uint64, 2*len(values))
	gamma := make([]scalar, 2*len(values))
	for j, v := range values {
		stmt[2*j] = uint64(v) - uint64(bounds[j].Lo)
		stmt[2*j+1] = uint64(bounds[j].Hi) - uint64(v)
		gamma[2*j] = blindings[j].toScalar()
		gamma[2*j+1].Neg(&gamma[2*j])
	}
	return stmt, gamma
}

// boundsProverRNG derives the prover's random scalars from the seed, the
// witness and the statement (see Prove's proverRNG).
func boundsProverRNG(seed [64]byte, values []int64, blindings []Scalar, vs []element, bounds []Interval, context []byte) *proverRNG {
	t := newTranscript("medchain/zk/bounds/prover-rng")
	t.appendMessage("seed", seed[:])
	bl := make([]byte, 0, scalarLen*len(blindings))
	for _, b := range blindings {
		bl = append(bl, b[:]...)
	}
	t.appendMessage("blindings", bl)
	t.appendMessage("values", encodeInputs(values))
	enc := make([]byte, 0, pointLen*len(vs))
	for j := range vs {
		enc = append(enc, vs[j].enc[:]...)
	}
	t.appendMessage("commitments", enc)
	t.appendMessage("bounds", encodeIntervals(bounds))
	t.appendMessage("context", context)
	return &proverRNG{t: t}
}

// proveBounds is the aggregated range proof (Bünz et al., §4.3) that each
// statement value stmt[s], committed with blinding gamma[s], is in
// [0, 2^64). ProveBounds only calls it with true statements; tests call it
// with lies to check that verification catches them.
func proveBounds(tr *transcript, rng *proverRNG, stmt []uint64, gamma []scalar) (*BoundsProof, error) {
	n := len(stmt) * boundsStatementBits // real bits
	nPad := boundsPaddedLen(len(stmt) / 2)
	g, h := boundsGenerators(nPad)

	// Randomness, in this order.
	alpha, rho := rng.scalar(), rng.scalar()
	sL, sR := rng.scalars(n), rng.scalars(n)
	tau1, tau2 := rng.scalar(), rng.scalar()

	aBits := make([]uint8, n)
	for s, v := range stmt {
		for i := 0; i < boundsStatementBits; i++ {
			aBits[s*boundsStatementBits+i] = uint8(v>>i) & 1
		}
	}

	// A = ⟨a_L, g⟩ + ⟨a_L − 1, h⟩ + α·H and S = ⟨s_L, g⟩ + ⟨s_R, h⟩ + ρ·H,
	// in constant time, S's two halves on two cores.
	pf := &BoundsProof{}
	var sg ed.ExtendedPoint
	done := make(chan struct{})
	go func() {
		defer close(done)
		sg = ctMSMNiels(g[:n], sL)
	}()
	A := ctBitSelectSumNiels(g[:n], h[:n], aBits)
	ah := ctFixedBase(store.tabH, &alpha)
	addExtended(&A, &ah)
	S := ctMSMNiels(h[:n], sR)
	sh := ctFixedBase(store.tabH, &rho)
	addExtended(&S, &sh)
	<-done
	addExtended(&S, &sg)
	pf.a, pf.s = newElement(&A), newElement(&S)
	tr.appendElement("A", &pf.a)
	tr.appendElement("S", &pf.s)
	y := tr.challenge("y")
	z := tr.challenge("z")
	if y == (scalar{}) {
		return nil, errZeroChallenge
	}

	// l(X) = a_L − z + s_L·X, r(X) = y^i∘(a_R + z + s_R·X) + z^(2+s)·2^i;
	// t(X) = ⟨l(X), r(X)⟩ = t0 + t1·X + t2·X².
	zs := boundsZPowers(&z, len(stmt))
	one := scalarOne()
	l0 := make([]scalar, n)
	r0 := make([]scalar, n)
	r1 := make([]scalar, n)
	var t1, t2, tmp, yi scalar
	yi.SetOne()
	for i := 0; i < n; i++ {
		aL := scalarFromUint64(uint64(aBits[i]))
		var aRz scalar
		aRz.Sub(&aL, &one)
		aRz.Add(&aRz, &z)
		l0[i].Sub(&aL, &z)
		tmp.Mul(&zs[i/boundsStatementBits], &twoPow[i%boundsStatementBits])
		r0[i].MulAdd(&yi, &aRz, &tmp)
		r1[i].Mul(&yi, &sR[i])
		tmp.Mul(&l0[i], &r1[i])
		t1.Add(&t1, &tmp)
		tmp.Mul(&sL[i], &r0[i])
		t1.Add(&t1, &tmp)
		tmp.Mul(&sL[i], &r1[i])
		t2.Add(&t2, &tmp)
		yi.Mul(&yi, &y)
	}
	pf.t1 = newElement(pedersen(&t1, &tau1))
	pf.t2 = newElement(pedersen(&t2, &tau2))
	tr.appendElement("T1", &pf.t1)
	tr.appendElement("T2", &pf.t2)
	x := tr.challenge("x")

	// l = l(x), r = r(x), zero-padded to nPad. The padding carries no
	// statement: the verifier's P has no terms on those generators, and
	// whatever a cheating prover hides there only adds terms in y^i,
	// i ≥ n, to t̂'s constant coefficient, which no real constraint has
	// (README, "Bounds proofs").
	lv := make([]scalar, nPad)
	rv := make([]scalar, nPad)
	for i := 0; i < n; i++ {
		lv[i].MulAdd(&x, &sL[i], &l0[i])
		rv[i].MulAdd(&x, &r1[i], &r0[i])
	}
	pf.tHat = innerProduct(lv[:n], rv[:n])
	pf.taux.Mul(&tau2, &x)
	pf.taux.Add(&pf.taux, &tau1)
	pf.taux.Mul(&pf.taux, &x)
	for s := range gamma {
		pf.taux.MulAdd(&zs[s], &gamma[s], &pf.taux)
	}
	pf.mu.MulAdd(&rho, &x, &alpha)
	tr.appendScalar("taux", &pf.taux)
	tr.appendScalar("mu", &pf.mu)
	tr.appendScalar("that", &pf.tHat)
	w := tr.challenge("w")

	var yInv scalar
	yInv.Inverse(&y)
	pf.l, pf.r, pf.aFinal, pf.bFinal = proveBoundsIPA(tr, g, h, lv, rv, powers(&yInv, nPad), &w)
	return pf, nil
}

// boundsZPowers returns z², z³, …, z^(count+1): statement s is weighted
// by z^(2+s).
func boundsZPowers(z *scalar, count int) []scalar {
	out := make([]scalar, count)
	out[0].Mul(z, z)
	for s := 1; s < count; s++ {
		out[s].Mul(&out[s-1], z)
	}
	return out
}

// foldRatio is how many base points each folded generator may combine
// before proveBoundsIPA makes the folded generators explicit.
const foldRatio = 8

// proveBoundsIPA proves knowledge of a, b with P = ⟨a, g⟩ + ⟨b, h'⟩ +
// ⟨a, b⟩·wU, h'_i = y^-i·h_i, exactly as proveRangeIPA (same folding,
// same L and R, transcript labels "L", "R", "u"), for long vectors:
//
// Each folded generator is tracked as a combination of "base" points
// (at first the generators themselves), so a round is two Pippenger sums
// over the base — one per core — and no scalar multiplication. Once every
// folded generator combines foldRatio base points, the folded generators
// are computed explicitly and become the new, shorter base. That costs
// a few rounds' worth of work and makes every later round 8 times
// cheaper: measured, 35 % (m = 47) to 60 % (m = 255) less than tracking
// everything to the end.
func proveBoundsIPA(tr *transcript, g, h []ed.NielsPoint, a, b, yInv []scalar, w *scalar) (L, R []element, aFinal, bFinal []scalar) {
	N := len(a)
	u := boundsU()
	baseG, baseH := g[:N], h[:N]
	cg := ones(N)
	ch := append([]scalar(nil), yInv...)
	var tmp, c scalar
	for n := N; n > ipaFinal; n /= 2 {
		half := n / 2
		nb := len(baseG)
		var ml, mr nielsMSM
		ml.pts, ml.sc = make([]ed.NielsPoint, 0, nb+1), make([]scalar, 0, nb+1)
		mr.pts, mr.sc = make([]ed.NielsPoint, 0, nb+1), make([]scalar, 0, nb+1)
		for j := 0; j < nb; j++ {
			i := j % n
			if i >= half {
				tmp.Mul(&a[i-half], &cg[j])
				ml.add(&baseG[j], &tmp)
				tmp.Mul(&b[i-half], &ch[j])
				mr.add(&baseH[j], &tmp)
			} else {
				tmp.Mul(&a[i+half], &cg[j])
				mr.add(&baseG[j], &tmp)
				tmp.Mul(&b[i+half], &ch[j])
				ml.add(&baseH[j], &tmp)
			}
		}
		c = innerProduct(a[:half], b[half:n])
		c.Mul(&c, w)
		ml.add(u, &c)
		c = innerProduct(a[half:n], b[:half])
		c.Mul(&c, w)
		mr.add(u, &c)
		lp, rp := evalNielsPair(&ml, &mr)
		L = append(L, newElement(&lp))
		R = append(R, newElement(&rp))
		tr.appendElement("L", &L[len(L)-1])
		tr.appendElement("R", &R[len(R)-1])
		x := tr.challenge("u")
		for i := 0; i < half; i++ {
			a[i].MulAdd(&x, &a[i+half], &a[i])
			b[i].MulAdd(&x, &b[i], &b[i+half])
		}
		for j := 0; j < nb; j++ {
			if j%n < half {
				cg[j].Mul(&cg[j], &x)
			} else {
				ch[j].Mul(&ch[j], &x)
			}
		}
		if half > ipaFinal && nb/half >= foldRatio {
			var newG []ed.NielsPoint
			done := make(chan struct{})
			go func() {
				defer close(done)
				newG = foldBase(baseG, cg, half)
			}()
			baseH = foldBase(baseH, ch, half)
			<-done
			baseG = newG
			cg, ch = ones(half), ones(half)
		}
	}
	return L, R, append([]scalar(nil), a[:ipaFinal]...), append([]scalar(nil), b[:ipaFinal]...)
}
