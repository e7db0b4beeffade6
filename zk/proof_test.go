package zk

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"testing"
)

// bucketAround returns a bucket containing s, cycling through the shapes
// that stress the range proof: a single score, s at either end, wide and
// open-ended buckets, and the whole int64 range.
func bucketAround(rng *mrand.Rand, s int64, kind int) Bucket {
	w := rng.Int64N(1 << 40)
	switch kind % 7 {
	case 0:
		return Bucket{s, s + 1}
	case 1:
		return Bucket{s, s + 1 + w}
	case 2:
		return Bucket{s - w, s + 1}
	case 3:
		return Bucket{math.MinInt64, s + 1 + w}
	case 4:
		return Bucket{s - w, math.MaxInt64}
	case 5:
		return Bucket{math.MinInt64, math.MaxInt64}
	default:
		return Bucket{s - w, s + 1 + rng.Int64N(1<<40)}
	}
}

// Completeness: for random models and inputs, d from 1 to 128, a proof
// that the plaintext score is in its bucket verifies, survives encoding,
// and has the advertised size.
func TestCompleteness(t *testing.T) {
	cases := []struct{ d, models int }{
		{1, 8}, {2, 4}, {3, 4}, {4, 3}, {5, 2}, {7, 2}, {8, 2}, {15, 2}, {16, 2},
		{31, 1}, {32, 1}, {63, 1}, {64, 1}, {100, 2}, {127, 1}, {128, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("d=%d", tc.d), func(t *testing.T) {
			t.Parallel()
			rng := mrand.New(mrand.NewPCG(uint64(tc.d), 7))
			params := mustParams(t, tc.d)
			for i := 0; i < tc.models; i++ {
				q, x := randomQuantizedModel(rng, tc.d)
				c, o := mustCommit(t, q, rand.Reader)
				s := mustScore(t, q, x)
				b := bucketAround(rng, s, i+tc.d)
				ctx := NewContext("medchain-test", fmt.Sprint("model-", i), "req")
				pf := mustProve(t, params, o, c, x, b, ctx, rand.Reader)
				if err := Verify(params, c, x, b, ctx, pf); err != nil {
					t.Fatalf("model %d, bucket %v: %v", i, b, err)
				}
				enc := mustMarshal(t, pf)
				if len(enc) != params.ProofSize() || len(enc) != pf.Size() {
					t.Fatalf("size %d, ProofSize %d", len(enc), params.ProofSize())
				}
				var back Proof
				if err := back.UnmarshalBinary(enc); err != nil {
					t.Fatal(err)
				}
				if err := Verify(params, c, x, b, ctx, &back); err != nil {
					t.Fatalf("decoded proof: %v", err)
				}
			}
		})
	}
}

// A logistic risk model with published risk bands: for every patient and
// every band, Prove succeeds exactly for the band the plaintext integer
// model puts the patient in, and each proof verifies for that band only.
// Away from the band edges, that is also the band of the real-valued model.
func TestBucketDecisionsMatchPlaintext(t *testing.T) {
	m := Model{
		// age/10, systolic BP/10, total cholesterol (mmol/L), HDL, smoker, diabetic
		Weights:   []float64{0.62, 0.18, 0.21, -0.45, 0.66, 0.57},
		Intercept: -8.9,
		Scale:     DefaultScale,
	}
	edges, err := EdgesFromProbabilities([]float64{0.05, 0.10, 0.20, 0.30}, m.Scale)
	if err != nil {
		t.Fatal(err)
	}
	buckets, _ := BucketsFromEdges(edges)
	params := mustParams(t, len(m.Weights))
	c, o, err := Commit(m, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(9, 10))
	seen := map[int]bool{}
	for p := 0; p < 12; p++ {
		raw := []float64{4 + 4*rng.Float64(), 11 + 7*rng.Float64(), 3.5 + 4*rng.Float64(), 0.8 + 1.2*rng.Float64(), float64(rng.IntN(2)), float64(rng.IntN(2))}
		x, err := QuantizeInputs(raw, m.Scale)
		if err != nil {
			t.Fatal(err)
		}
		s := mustScore(t, o.QuantizedModel, x)
		want, ok := FindBucket(buckets, s)
		if !ok {
			t.Fatalf("score %d in no bucket", s)
		}
		seen[want] = true
		logit := m.Intercept
		for i := range raw {
			logit += m.Weights[i] * raw[i]
		}
		risk := 1 / (1 + math.Exp(-logit))
		band := 0
		for _, th := range []float64{0.05, 0.10, 0.20, 0.30} {
			if risk >= th {
				band++
			}
		}
		if band != want && math.Abs(risk-[]float64{0.05, 0.10, 0.20, 0.30}[min(band, want)]) > 1e-4 {
			t.Fatalf("risk %.5f: real-valued band %d, integer band %d", risk, band, want)
		}
		ctx := NewContext("medchain-test", "cvd-10y", fmt.Sprint("patient-", p))
		for j, b := range buckets {
			pf, err := Prove(params, o, c, x, b, ctx, rand.Reader)
			if j != want {
				if !errors.Is(err, ErrOutsideBucket) {
					t.Fatalf("patient %d: Prove for band %d (true %d): %v", p, j, want, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, other := range buckets {
				err := Verify(params, c, x, other, ctx, pf)
				if (err == nil) != (k == want) {
					t.Fatalf("patient %d: proof of band %d checked against band %d: %v", p, want, k, err)
				}
			}
		}
	}
	if len(seen) < 3 {
		t.Fatalf("test patients cover only bands %v", seen)
	}
}

// fixture is one valid statement and proof, and the secrets behind it.
type fixture struct {
	params *Params
	q      QuantizedModel
	c      Commitment
	o      Opening
	x      []int64
	score  int64
	b      Bucket
	ctx    []byte
	pf     *Proof
	enc    []byte
}

func newFixture(t testing.TB, d int, seed uint64) *fixture {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 11))
	f := &fixture{params: mustParams(t, d)}
	f.q, f.x = randomQuantizedModel(rng, d)
	f.c, f.o = mustCommit(t, f.q, rand.Reader)
	f.score = mustScore(t, f.q, f.x)
	f.b = Bucket{f.score - 1000, f.score + 1000}
	f.ctx = NewContext("medchain-test", "model", fmt.Sprint("req-", seed))
	f.pf = mustProve(t, f.params, f.o, f.c, f.x, f.b, f.ctx, rand.Reader)
	f.enc = mustMarshal(t, f.pf)
	return f
}

func (f *fixture) verify(c Commitment, x []int64, b Bucket, ctx []byte, pf *Proof) error {
	return Verify(f.params, c, x, b, ctx, pf)
}

func mustReject(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	if !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("%s: error %v does not wrap ErrInvalidProof", what, err)
	}
}

// The statement is bound: any other bucket, inputs, context, commitment or
// dimension makes the proof fail.
func TestSoundnessStatementBinding(t *testing.T) {
	f := newFixture(t, 5, 1)
	if err := f.verify(f.c, f.x, f.b, f.ctx, f.pf); err != nil {
		t.Fatal(err)
	}
	// Other buckets, including ones that also contain the score.
	for _, b := range []Bucket{
		{f.b.Lo + 1, f.b.Hi}, {f.b.Lo, f.b.Hi - 1}, {f.b.Lo - 1, f.b.Hi + 1},
		{f.score + 1, f.score + 5000}, {f.score - 5000, f.score},
		{f.b.Hi, f.b.Lo}, // empty
	} {
		mustReject(t, fmt.Sprintf("bucket %v", b), f.verify(f.c, f.x, b, f.ctx, f.pf))
	}
	for i := range f.x {
		for _, delta := range []int64{1, -1, 1 << 40} {
			x := append([]int64(nil), f.x...)
			x[i] += delta
			mustReject(t, fmt.Sprintf("x[%d]%+d", i, delta), f.verify(f.c, x, f.b, f.ctx, f.pf))
		}
	}
	mustReject(t, "missing input", f.verify(f.c, f.x[:4], f.b, f.ctx, f.pf))
	for i := range f.ctx {
		ctx := append([]byte(nil), f.ctx...)
		ctx[i] ^= 0x20
		mustReject(t, fmt.Sprintf("context byte %d", i), f.verify(f.c, f.x, f.b, ctx, f.pf))
	}
	mustReject(t, "longer context", f.verify(f.c, f.x, f.b, append(f.ctx, 0), f.pf))
	mustReject(t, "other request", f.verify(f.c, f.x, f.b, NewContext("medchain-test", "model", "req-2"), f.pf))

	// A different model's commitment, and the same weights under another
	// blinding.
	other, _ := mustCommit(t, QuantizedModel{Weights: []int64{1, 2, 3, 4, 5}}, rand.Reader)
	mustReject(t, "other model", f.verify(other, f.x, f.b, f.ctx, f.pf))
	reblinded, _ := mustCommit(t, f.q, rand.Reader)
	mustReject(t, "same weights, other blinding", f.verify(reblinded, f.x, f.b, f.ctx, f.pf))
	for i := range f.c {
		c := f.c
		c[i] ^= 0x04
		mustReject(t, fmt.Sprintf("commitment byte %d", i), f.verify(c, f.x, f.b, f.ctx, f.pf))
	}
	var zero Commitment
	mustReject(t, "identity commitment", f.verify(zero, f.x, f.b, f.ctx, f.pf))

	// Parameters with the same padded length (5 and 6 features both pad
	// to 8) but another dimension.
	p6 := mustParams(t, 6)
	mustReject(t, "6-feature params", Verify(p6, f.c, append(f.x, 0), f.b, f.ctx, f.pf))
	mustReject(t, "nil proof", f.verify(f.c, f.x, f.b, f.ctx, nil))
}

// A cheating prover that skips Prove's checks: it proves a score outside
// the bucket, or claims a score in the bucket that the model does not
// produce. Verification rejects every such proof.
func TestSoundnessCraftedScores(t *testing.T) {
	f := newFixture(t, 5, 2)
	w := f.o.weightVector()
	r, _ := decodeScalar(f.o.Blinding[:])
	cEl, _ := decodeElement(f.c[:])
	s := f.score
	for _, tc := range []struct {
		name  string
		b     Bucket
		claim int64
	}{
		{"true score just below lo", Bucket{s + 1, s + 100}, s},
		{"true score far below lo", Bucket{s + 1<<40, s + 1<<41}, s},
		{"true score at hi", Bucket{s - 100, s}, s},
		{"true score above hi", Bucket{s - 1<<41, s - 1<<40}, s},
		{"lie: claim lo", Bucket{s + 1, s + 100}, s + 1},
		{"lie: claim hi-1", Bucket{s - 100, s}, s - 1},
		{"lie: off by one inside a bucket", Bucket{s - 100, s + 100}, s + 1},
	} {
		rng, err := newProverRNG(rand.Reader, &f.o, f.c, f.x, tc.b, f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := prove(f.params, w, &r, &cEl, f.x, tc.b, f.ctx, rng, tc.claim)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		mustReject(t, tc.name, f.verify(f.c, f.x, tc.b, f.ctx, pf))
		if _, err := Prove(f.params, f.o, f.c, f.x, tc.b, f.ctx, rand.Reader); tc.claim == s && !errors.Is(err, ErrOutsideBucket) {
			t.Fatalf("%s: honest Prove did not refuse: %v", tc.name, err)
		}
	}
}

// A forged score commitment: S replaced by a commitment to another score
// (with its opening known to the forger), by the real S of another proof,
// or by any other point.
func TestSoundnessForgedScoreCommitment(t *testing.T) {
	f := newFixture(t, 5, 3)
	g := newFixture(t, 5, 4)
	one := scalarOne()
	for name, S := range map[string]element{
		"commitment to score+1": func() element {
			v := scalarFromInt64(f.score + 1)
			return newElement(pedersen(&v, &one))
		}(),
		"another proof's S": g.pf.score,
		"a generator":       newElement(&store.B.p),
	} {
		forged := *f.pf
		forged.score = S
		mustReject(t, name, f.verify(f.c, f.x, f.b, f.ctx, &forged))
	}
	// Mixing the halves of two valid proofs.
	mixed := *f.pf
	mixed.rpA, mixed.rpS, mixed.rpT1, mixed.rpT2 = g.pf.rpA, g.pf.rpS, g.pf.rpT1, g.pf.rpT2
	mustReject(t, "range proof from another proof", f.verify(f.c, f.x, f.b, f.ctx, &mixed))
}

// Every single byte of the encoding matters: flipping any of them makes
// decoding or verification fail.
func TestSoundnessEveryProofByte(t *testing.T) {
	for _, d := range []int{2, 100} {
		if d == 100 && testing.Short() {
			continue
		}
		t.Run(fmt.Sprintf("d=%d", d), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, d, uint64(10+d))
			rng := mrand.New(mrand.NewPCG(uint64(d), 12))
			for i := range f.enc {
				enc := append([]byte(nil), f.enc...)
				enc[i] ^= byte(1 + rng.IntN(255))
				var pf Proof
				if err := pf.UnmarshalBinary(enc); err != nil {
					mustReject(t, fmt.Sprintf("byte %d", i), err)
					continue
				}
				mustReject(t, fmt.Sprintf("byte %d", i), f.verify(f.c, f.x, f.b, f.ctx, &pf))
			}
		})
	}
}

// proofLayout lists the kind of each 32-byte item of an encoded proof:
// 'P' for a point, 'S' for a scalar.
func proofLayout(log int) []byte {
	k, fl := linearShape(log)
	l := []byte("PPPSSS")
	l = append(l, bytes.Repeat([]byte("PP"), k)...)
	l = append(l, bytes.Repeat([]byte("S"), fl)...)
	l = append(l, "PPPPSSS"...)
	l = append(l, bytes.Repeat([]byte("PP"), rangeRounds)...)
	return append(l, bytes.Repeat([]byte("S"), 2*ipaFinal)...)
}

// Decoding is strict: the identity or a non-canonical encoding in any
// point slot, a non-canonical scalar in any scalar slot, another version
// byte, and any other length are refused.
func TestDecodingStrict(t *testing.T) {
	f := newFixture(t, 3, 5)
	layout := proofLayout(f.params.log)
	if len(f.enc) != 1+32*len(layout) {
		t.Fatalf("layout has %d items for %d bytes", len(layout), len(f.enc))
	}
	badPoints := append([]string{rfc9496Multiples[0]}, rfc9496Bad...)
	badScalars := []string{
		"edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // ℓ
		"eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // ℓ+1
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	}
	for item, kind := range layout {
		bad := badScalars
		if kind == 'P' {
			bad = badPoints
		}
		for _, h := range bad {
			enc := append([]byte(nil), f.enc...)
			copy(enc[1+32*item:], unhex(t, h))
			var pf Proof
			mustReject(t, fmt.Sprintf("item %d (%c) = %s", item, kind, h[:8]), pf.UnmarshalBinary(enc))
		}
	}
	enc := append([]byte(nil), f.enc...)
	enc[0] = 2
	var pf Proof
	mustReject(t, "version 2", pf.UnmarshalBinary(enc))

	// Truncated and padded: refused, or (when the length happens to be
	// that of another dimension's proof) parsed but rejected by Verify.
	for n := 0; n < len(f.enc)+100; n++ {
		if n == len(f.enc) {
			continue
		}
		b := make([]byte, n)
		copy(b, f.enc)
		var pf Proof
		if err := pf.UnmarshalBinary(b); err != nil {
			mustReject(t, fmt.Sprintf("length %d", n), err)
			continue
		}
		mustReject(t, fmt.Sprintf("length %d", n), f.verify(f.c, f.x, f.b, f.ctx, &pf))
	}
	if err := pf.UnmarshalText([]byte("!!")); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("bad base64: %v", err)
	}
}

// Zero-knowledge hygiene: every proof uses fresh masks, so two proofs of
// the same prediction share no 32-byte item — not even the score
// commitment.
func TestFreshRandomness(t *testing.T) {
	f := newFixture(t, 4, 6)
	again := mustMarshal(t, mustProve(t, f.params, f.o, f.c, f.x, f.b, f.ctx, rand.Reader))
	items := map[string]bool{}
	for i := 1; i < len(f.enc); i += 32 {
		items[string(f.enc[i:i+32])] = true
	}
	for i := 1; i < len(again); i += 32 {
		if items[string(again[i:i+32])] {
			t.Fatalf("item at byte %d repeats across two proofs", i)
		}
	}
}

// Hedged randomness: a reader that repeats itself (a cloned VM, a broken
// RNG) yields the same proof for the same statement, and unrelated masks
// for any other statement — never two different proofs sharing masks,
// which would reveal the weights.
func TestHedgedRandomness(t *testing.T) {
	f := newFixture(t, 4, 7)
	p1 := mustMarshal(t, mustProve(t, f.params, f.o, f.c, f.x, f.b, f.ctx, newSeededReader("stuck")))
	p2 := mustMarshal(t, mustProve(t, f.params, f.o, f.c, f.x, f.b, f.ctx, newSeededReader("stuck")))
	if !bytes.Equal(p1, p2) {
		t.Fatal("same statement, same randomness, different proofs")
	}
	p3 := mustMarshal(t, mustProve(t, f.params, f.o, f.c, f.x, f.b, append(f.ctx, '!'), newSeededReader("stuck")))
	for i := 1; i < len(p1); i += 32 {
		if bytes.Equal(p1[i:i+32], p3[i:i+32]) {
			t.Fatalf("item at byte %d shared by proofs of different statements", i)
		}
	}
}

func TestProveRefuses(t *testing.T) {
	f := newFixture(t, 3, 8)
	if _, err := Prove(f.params, f.o, f.c, f.x, Bucket{f.score + 1, f.score + 2}, f.ctx, rand.Reader); !errors.Is(err, ErrOutsideBucket) {
		t.Fatalf("wrong bucket: %v", err)
	}
	if _, err := Prove(f.params, f.o, f.c, f.x, Bucket{5, 5}, f.ctx, rand.Reader); !errors.Is(err, ErrBucket) {
		t.Fatalf("empty bucket: %v", err)
	}
	if _, err := Prove(f.params, f.o, f.c, f.x[:2], f.b, f.ctx, rand.Reader); !errors.Is(err, ErrDimension) {
		t.Fatalf("short x: %v", err)
	}
	other, _ := mustCommit(t, f.q, rand.Reader)
	if _, err := Prove(f.params, f.o, other, f.x, f.b, f.ctx, rand.Reader); !errors.Is(err, ErrOpeningMismatch) {
		t.Fatalf("opening of another commitment: %v", err)
	}
	// An input so large the score leaves int64: no bucket holds it.
	x := append([]int64(nil), f.x...)
	x[0] = math.MaxInt64
	q := f.q
	q.Weights = append([]int64(nil), q.Weights...)
	q.Weights[0] = 1 << 40
	c, o := mustCommit(t, q, rand.Reader)
	if _, err := Prove(f.params, o, c, x, Bucket{math.MinInt64, math.MaxInt64}, f.ctx, rand.Reader); !errors.Is(err, ErrOutsideBucket) {
		t.Fatalf("overflowing score: %v", err)
	}
}

func TestBatchVerify(t *testing.T) {
	var items []BatchItem
	for i, d := range []int{3, 100, 3, 17, 100} {
		f := newFixture(t, d, uint64(20+i))
		items = append(items, BatchItem{f.params, f.c, f.x, f.b, f.ctx, f.pf})
	}
	if err := BatchVerify(items); err != nil {
		t.Fatal(err)
	}
	if err := BatchVerify(nil); err != nil {
		t.Fatal(err)
	}
	bad := append([]BatchItem(nil), items...)
	bad[3].Context = []byte("elsewhere")
	var be *BatchError
	if err := BatchVerify(bad); !errors.As(err, &be) || be.Index != 3 || !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("BatchVerify with item 3 broken: %v", err)
	}
	// Two proofs that each fail but whose errors would cancel in an
	// unweighted sum: the per-proof weights stop that.
	swapped := append([]BatchItem(nil), items...)
	swapped[0].Proof, swapped[2].Proof = items[2].Proof, items[0].Proof
	if err := BatchVerify(swapped); !errors.As(err, &be) || be.Index != 0 {
		t.Fatalf("swapped proofs: %v", err)
	}
}
