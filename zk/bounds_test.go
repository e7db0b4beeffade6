package zk

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// boundsCase is one site's contribution: values, their intervals, the
// blindings, the commitments and a proof.
type boundsCase struct {
	ctx         []byte
	values      []int64
	bounds      []Interval
	blindings   []Scalar
	commitments []Commitment
	proof       *BoundsProof
	enc         []byte
}

// randomBlindings draws m blindings from r.
func randomBlindings(t testing.TB, r io.Reader, m int) []Scalar {
	t.Helper()
	out := make([]Scalar, m)
	for j := range out {
		var u [64]byte
		if _, err := io.ReadFull(r, u[:]); err != nil {
			t.Fatal(err)
		}
		out[j] = ScalarFromUniform(u)
	}
	return out
}

// newBoundsCase commits to values and proves them in bounds, with
// blindings and prover randomness derived from ctx.
func newBoundsCase(t testing.TB, ctx string, values []int64, bounds []Interval) *boundsCase {
	t.Helper()
	c := &boundsCase{
		ctx:       []byte(ctx),
		values:    values,
		bounds:    bounds,
		blindings: randomBlindings(t, newSeededReader("blindings/"+ctx), len(values)),
	}
	var err error
	if c.commitments, err = CommitValues(values, c.blindings); err != nil {
		t.Fatal(err)
	}
	// Deterministic prover randomness, so that the fuzzer's worker
	// processes build the same fixture. Tests only.
	if c.proof, err = ProveBounds(c.ctx, values, c.blindings, bounds, newSeededReader("prover/"+ctx)); err != nil {
		t.Fatal(err)
	}
	if c.enc, err = c.proof.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *boundsCase) verify() error {
	return VerifyBounds(c.ctx, c.commitments, c.bounds, c.proof)
}

// intervalAround returns an interval containing v, cycling through the
// shapes that stress the statement: v at either end, a single point,
// narrow, wide, open-ended and the whole int64 range.
func intervalAround(rng *mrand.Rand, v int64, kind int) Interval {
	w := rng.Int64N(1 << 40)
	switch kind % 8 {
	case 0:
		return Interval{v, v}
	case 1:
		return Interval{v, sat(v, w)}
	case 2:
		return Interval{sat(v, -w), v}
	case 3:
		return Interval{math.MinInt64, sat(v, w)}
	case 4:
		return Interval{sat(v, -w), math.MaxInt64}
	case 5:
		return Interval{math.MinInt64, math.MaxInt64}
	case 6:
		return Interval{sat(v, -3), sat(v, 3)}
	default:
		return Interval{sat(v, -w), sat(v, rng.Int64N(1<<40))}
	}
}

// sat is v + d, saturated to the int64 range.
func sat(v, d int64) int64 {
	s := v + d
	if d > 0 && s < v {
		return math.MaxInt64
	}
	if d < 0 && s > v {
		return math.MinInt64
	}
	return s
}

// randomContribution returns m values of every magnitude, with intervals
// around them.
func randomContribution(rng *mrand.Rand, m int) ([]int64, []Interval) {
	values := make([]int64, m)
	bounds := make([]Interval, m)
	for j := range values {
		switch j % 4 {
		case 0:
			values[j] = rng.Int64N(1<<20) - 1<<19 // counts, small sums
		case 1:
			values[j] = rng.Int64N(1<<48) - 1<<47 // fixed-point sums of products
		case 2:
			values[j] = int64(rng.Uint64()) // anything
		default:
			values[j] = rng.Int64N(1 << 62)
		}
		bounds[j] = intervalAround(rng, values[j], j+m)
	}
	return values, bounds
}

// Completeness: random contributions of various lengths (both sides of a
// power of two, so with and without padding) verify, survive the binary
// and text encodings, and have the advertised size.
func TestBoundsRoundTrip(t *testing.T) {
	for _, m := range []int{1, 2, 3, 4, 5, 8, 13, 33} {
		t.Run(fmt.Sprintf("m=%d", m), func(t *testing.T) {
			rng := mrand.New(mrand.NewPCG(uint64(m), 1))
			values, bounds := randomContribution(rng, m)
			c := newBoundsCase(t, fmt.Sprint("round-trip/", m), values, bounds)
			if err := c.verify(); err != nil {
				t.Fatal(err)
			}
			if len(c.enc) != BoundsProofSize(m) || c.proof.Size() != len(c.enc) {
				t.Fatalf("encoding %d bytes, Size %d, BoundsProofSize %d", len(c.enc), c.proof.Size(), BoundsProofSize(m))
			}
			var back BoundsProof
			if err := back.UnmarshalBinary(c.enc); err != nil {
				t.Fatal(err)
			}
			if err := VerifyBounds(c.ctx, c.commitments, bounds, &back); err != nil {
				t.Fatalf("decoded proof: %v", err)
			}
			// JSON, as the ledger and API carry it.
			type wire struct {
				Commitments []Commitment `json:"commitments"`
				Bounds      []Interval   `json:"bounds"`
				Proof       *BoundsProof `json:"proof"`
			}
			js, err := json.Marshal(wire{c.commitments, bounds, c.proof})
			if err != nil {
				t.Fatal(err)
			}
			var got wire
			if err := json.Unmarshal(js, &got); err != nil {
				t.Fatal(err)
			}
			if err := VerifyBounds(c.ctx, got.Commitments, got.Bounds, got.Proof); err != nil {
				t.Fatalf("after JSON: %v", err)
			}
		})
	}
}

func TestBoundsProofSizes(t *testing.T) {
	for _, tc := range []struct{ m, size int }{
		{1, 801}, {2, 865}, {3, 929}, {4, 929}, {47, 1185}, {64, 1185}, {65, 1249},
		{255, 1313}, {256, 1313}, {257, 1377}, {300, 1377}, {MaxBoundsValues, 1377},
	} {
		if got := BoundsProofSize(tc.m); got != tc.size {
			t.Errorf("BoundsProofSize(%d) = %d, want %d", tc.m, got, tc.size)
		}
	}
}

// Values at and next to the edges of their intervals, single-point
// intervals, negative intervals and the extremes of int64 all prove and
// verify — alone and all in one proof.
func TestBoundsEdgeValues(t *testing.T) {
	const minI, maxI = math.MinInt64, math.MaxInt64
	cases := []struct {
		name string
		v    int64
		iv   Interval
	}{
		{"v = Lo", 10, Interval{10, 20}},
		{"v = Hi", 20, Interval{10, 20}},
		{"Lo = Hi", 7, Interval{7, 7}},
		{"zero point", 0, Interval{0, 0}},
		{"negative range, v = Lo", -20, Interval{-20, -10}},
		{"negative range, v = Hi", -10, Interval{-20, -10}},
		{"straddling zero", -1, Interval{-1, 0}},
		{"whole int64, v = MinInt64", minI, Interval{minI, maxI}},
		{"whole int64, v = MaxInt64", maxI, Interval{minI, maxI}},
		{"whole int64, v = 0", 0, Interval{minI, maxI}},
		{"width 2^64-2, v = MinInt64", minI, Interval{minI, maxI - 1}},
		{"width 2^64-2, v = MaxInt64-1", maxI - 1, Interval{minI, maxI - 1}},
		{"[MinInt64, MinInt64]", minI, Interval{minI, minI}},
		{"[MaxInt64, MaxInt64]", maxI, Interval{maxI, maxI}},
		{"[MinInt64, MinInt64+1]", minI + 1, Interval{minI, minI + 1}},
		{"[MaxInt64-1, MaxInt64]", maxI - 1, Interval{maxI - 1, maxI}},
		{"[MinInt64, -1]", -1, Interval{minI, -1}},
		{"[0, MaxInt64]", maxI, Interval{0, maxI}},
	}
	var values []int64
	var bounds []Interval
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newBoundsCase(t, "edge/"+tc.name, []int64{tc.v}, []Interval{tc.iv})
			if err := c.verify(); err != nil {
				t.Fatal(err)
			}
		})
		values = append(values, tc.v)
		bounds = append(bounds, tc.iv)
	}
	c := newBoundsCase(t, "edge/all", values, bounds)
	if err := c.verify(); err != nil {
		t.Fatalf("all edge cases in one proof: %v", err)
	}
}

// outOfRange lists values just and far outside iv, built from a value v
// inside it: Lo−1, Hi+1, v·1000 and −v, whenever those are int64s outside
// the interval.
func outOfRange(v int64, iv Interval) []int64 {
	var out []int64
	if iv.Lo > math.MinInt64 {
		out = append(out, iv.Lo-1)
	}
	if iv.Hi < math.MaxInt64 {
		out = append(out, iv.Hi+1)
	}
	if big := v * 1000; big/1000 == v && !iv.Contains(big) {
		out = append(out, big)
	}
	if v != math.MinInt64 && !iv.Contains(-v) {
		out = append(out, -v)
	}
	return out
}

var refusalIntervals = []struct {
	v  int64
	iv Interval
}{
	{15, Interval{10, 20}},
	{-15, Interval{-20, -10}},
	{3, Interval{3, 3}},
	{1 << 40, Interval{1 << 39, 1 << 41}},
	{math.MinInt64 + 5, Interval{math.MinInt64, 0}},
	{math.MaxInt64 - 5, Interval{0, math.MaxInt64}},
	{-7, Interval{-100, -1}},
}

// ProveBounds refuses every value outside its interval, naming its index
// but not the value.
func TestBoundsProverRefuses(t *testing.T) {
	for _, tc := range refusalIntervals {
		bad := outOfRange(tc.v, tc.iv)
		if len(bad) < 2 {
			t.Fatalf("%v: too few out-of-range values %v", tc.iv, bad)
		}
		for _, v := range bad {
			values := []int64{tc.v, v, tc.v}
			bounds := []Interval{tc.iv, tc.iv, tc.iv}
			bl := randomBlindings(t, rand.Reader, 3)
			_, err := ProveBounds([]byte("refuse"), values, bl, bounds, rand.Reader)
			if !errors.Is(err, ErrOutOfBounds) {
				t.Fatalf("%d in %v: err = %v, want ErrOutOfBounds", v, tc.iv, err)
			}
			if want := ErrOutOfBounds.Error() + ": index 1"; err.Error() != want {
				t.Fatalf("error %q, want %q (the index, not the value)", err, want)
			}
		}
	}
	// Malformed input.
	bl := randomBlindings(t, rand.Reader, 2)
	if _, err := ProveBounds(nil, []int64{1, 2}, bl, []Interval{{0, 5}, {6, 5}}, rand.Reader); !errors.Is(err, ErrInterval) {
		t.Errorf("empty interval: %v", err)
	}
	if _, err := ProveBounds(nil, []int64{1, 2}, bl[:1], []Interval{{0, 5}, {0, 5}}, rand.Reader); !errors.Is(err, ErrDimension) {
		t.Errorf("missing blinding: %v", err)
	}
	if _, err := ProveBounds(nil, []int64{1, 2}, bl, []Interval{{0, 5}}, rand.Reader); !errors.Is(err, ErrDimension) {
		t.Errorf("missing interval: %v", err)
	}
	if _, err := ProveBounds(nil, nil, nil, nil, rand.Reader); !errors.Is(err, ErrDimension) {
		t.Errorf("no values: %v", err)
	}
	tooMany := make([]int64, MaxBoundsValues+1)
	if _, err := ProveBounds(nil, tooMany, make([]Scalar, len(tooMany)), make([]Interval, len(tooMany)), rand.Reader); !errors.Is(err, ErrDimension) {
		t.Errorf("too many values: %v", err)
	}
	nonCanonical := Scalar(scalarBytes(new(scalar)))
	for i := range nonCanonical {
		nonCanonical[i] = 0xff
	}
	if _, err := ProveBounds(nil, []int64{1}, []Scalar{nonCanonical}, []Interval{{0, 5}}, rand.Reader); !errors.Is(err, ErrEncoding) {
		t.Errorf("non-canonical blinding: %v", err)
	}
	if _, err := ProveBounds(nil, []int64{0}, []Scalar{{}}, []Interval{{0, 5}}, rand.Reader); !errors.Is(err, ErrEncoding) {
		t.Errorf("identity commitment: %v", err)
	}
}

// A prover who goes ahead anyway gets nothing that verifies:
//
//   - a valid proof, presented with the commitments of out-of-range values
//     (same blindings) in place of the proven ones, fails;
//   - proofs computed for the out-of-range values by the protocol itself,
//     the bits of the wrapped (mod 2^64) differences standing in for the
//     true ones, fail;
//   - so does a commitment to a field element just past the int64 range,
//     v = Hi + 2^64, whose differences are ≡ in-range ones mod 2^64.
func TestBoundsForgedStatementsFail(t *testing.T) {
	for _, tc := range refusalIntervals {
		good := newBoundsCase(t, fmt.Sprint("forge/", tc.iv), []int64{tc.v, tc.v}, []Interval{tc.iv, tc.iv})
		if err := good.verify(); err != nil {
			t.Fatal(err)
		}
		for _, v := range outOfRange(tc.v, tc.iv) {
			// Swap in the commitment of an out-of-range value.
			swapped, err := CommitValue(v, good.blindings[1])
			if err != nil {
				t.Fatal(err)
			}
			cs := []Commitment{good.commitments[0], swapped}
			err = VerifyBounds(good.ctx, cs, good.bounds, good.proof)
			if !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "range polynomial") {
				t.Fatalf("%d in %v: swapped commitment: err = %v", v, tc.iv, err)
			}
			// Run the protocol on the lie.
			values := []int64{tc.v, v}
			forged := forgeBoundsProof(t, good.ctx, values, good.blindings, good.bounds)
			cs, _ = CommitValues(values, good.blindings)
			if err := VerifyBounds(good.ctx, cs, good.bounds, forged); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("%d in %v: forged proof: err = %v", v, tc.iv, err)
			}
		}
	}

	// v = Hi + 2^64 as a field element: v − Lo ≡ Hi − Lo and Hi − v ≡ 0
	// (mod 2^64), both "in range" to a prover that computes in uint64.
	iv := Interval{-1000, 1000}
	r := randomBlindings(t, rand.Reader, 1)
	var v scalar
	v.SetBigInt(new(big.Int).Add(big.NewInt(iv.Hi), new(big.Int).Lsh(big.NewInt(1), 64)))
	rs := r[0].toScalar()
	vEl := newElement(pedersen(&v, &rs))
	stmt := []uint64{iv.Width(), 0}
	gamma := []scalar{rs, neg(&rs)}
	tr := boundsTranscript([]byte("wrap"), []element{vEl}, []Interval{iv})
	rng := boundsProverRNG([64]byte{}, []int64{iv.Hi}, r, []element{vEl}, []Interval{iv}, []byte("wrap"))
	pf, err := proveBounds(tr, rng, stmt, gamma)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBounds([]byte("wrap"), []Commitment{vEl.enc}, []Interval{iv}, pf); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("field value Hi + 2^64: err = %v", err)
	}
}

// forgeBoundsProof runs the prover without the range check, on the
// uint64-wrapped differences of whatever values it is given.
func forgeBoundsProof(t *testing.T, ctx []byte, values []int64, blindings []Scalar, bounds []Interval) *BoundsProof {
	t.Helper()
	vs, err := commitValues(values, blindings)
	if err != nil {
		t.Fatal(err)
	}
	stmt, gamma := boundsStatements(values, blindings, bounds)
	rng := boundsProverRNG([64]byte{1}, values, blindings, vs, bounds, ctx)
	pf, err := proveBounds(boundsTranscript(ctx, vs, bounds), rng, stmt, gamma)
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// A proof is bound to its context, its intervals, and its commitments in
// their order: changing any of them, even to another true statement,
// makes it fail.
func TestBoundsStatementBinding(t *testing.T) {
	values := []int64{5, -300, 1 << 33, 0}
	bounds := []Interval{{0, 10}, {-1000, 0}, {0, 1 << 40}, {-1, 1}}
	c := newBoundsCase(t, "binding", values, bounds)
	if err := c.verify(); err != nil {
		t.Fatal(err)
	}
	fails := func(what string, ctx []byte, cs []Commitment, bs []Interval) {
		t.Helper()
		err := VerifyBounds(ctx, cs, bs, c.proof)
		if !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: err = %v, want ErrInvalidProof", what, err)
		}
	}
	fails("other context", []byte("binding2"), c.commitments, bounds)
	fails("empty context", nil, c.commitments, bounds)
	for j := range bounds {
		// Wider intervals still contain the values: the statement stays
		// true, but it is not the one proven.
		wider := append([]Interval(nil), bounds...)
		wider[j].Lo--
		fails(fmt.Sprintf("interval %d: Lo−1", j), c.ctx, c.commitments, wider)
		wider = append([]Interval(nil), bounds...)
		wider[j].Hi++
		fails(fmt.Sprintf("interval %d: Hi+1", j), c.ctx, c.commitments, wider)
	}
	swapped := append([]Commitment(nil), c.commitments...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	fails("two commitments swapped", c.ctx, swapped, bounds)
	swappedBounds := append([]Interval(nil), bounds...)
	swappedBounds[0], swappedBounds[1] = swappedBounds[1], swappedBounds[0]
	fails("commitments and intervals swapped together", c.ctx, swapped, swappedBounds)
	reversed := make([]Commitment, len(c.commitments))
	for j := range reversed {
		reversed[j] = c.commitments[len(reversed)-1-j]
	}
	fails("commitments reversed", c.ctx, reversed, bounds)
	fails("one commitment fewer", c.ctx, c.commitments[:3], bounds[:3])
	other, _ := CommitValue(5, randomBlindings(t, rand.Reader, 1)[0])
	fails("a commitment to the same value, other blinding", c.ctx, append([]Commitment{other}, c.commitments[1:]...), bounds)

	// A proof of the same shape for another site does not verify here.
	dBl := randomBlindings(t, rand.Reader, len(values))
	d, err := ProveBounds(c.ctx, values, dBl, bounds, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBounds(c.ctx, c.commitments, bounds, d); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("another site's proof: %v", err)
	}
	// Nor a proof for another number of values.
	e := newBoundsCase(t, "binding", values[:1], bounds[:1])
	if err := VerifyBounds(c.ctx, c.commitments, bounds, e.proof); !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "shape") {
		t.Errorf("proof for 1 value: %v", err)
	}
	if err := VerifyBounds(c.ctx, c.commitments, bounds, nil); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("nil proof: %v", err)
	}
	var garbage Commitment
	copy(garbage[:], bytes.Repeat([]byte{0xff}, 32))
	if err := VerifyBounds(c.ctx, append([]Commitment{garbage}, c.commitments[1:]...), bounds, c.proof); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("malformed commitment: %v", err)
	}
	empty := append([]Interval(nil), bounds...)
	empty[2] = Interval{1, 0}
	if err := VerifyBounds(c.ctx, c.commitments, empty, c.proof); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("empty interval: %v", err)
	}
}

// Changing any byte of an encoded proof makes it undecodable or invalid.
func TestBoundsEveryProofByte(t *testing.T) {
	c := newBoundsCase(t, "tamper", []int64{42}, []Interval{{0, 100}})
	rng := mrand.New(mrand.NewPCG(3, 3))
	for i := range c.enc {
		for _, mask := range []byte{1 << rng.IntN(8), byte(1 + rng.IntN(255))} {
			bad := bytes.Clone(c.enc)
			bad[i] ^= mask
			var pf BoundsProof
			if err := pf.UnmarshalBinary(bad); err != nil {
				if !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("byte %d: decode error %v does not wrap ErrInvalidProof", i, err)
				}
				continue
			}
			err := VerifyBounds(c.ctx, c.commitments, c.bounds, &pf)
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("byte %d ^ %#x: err = %v", i, mask, err)
			}
			// Past t̂ (L, R, a, b) only the inner-product argument is affected,
			// and the error says so.
			if i > 1+32*7 && !strings.Contains(err.Error(), "inner-product") {
				t.Fatalf("byte %d ^ %#x: err = %v, want the inner-product argument named", i, mask, err)
			}
		}
	}
}

// Decoding accepts exactly the canonical encoding of a proof.
func TestBoundsDecodingStrict(t *testing.T) {
	c := newBoundsCase(t, "decode", []int64{1, 2, 3}, []Interval{{0, 3}, {0, 3}, {0, 3}})
	var pf BoundsProof
	decodes := func(b []byte) error { return pf.UnmarshalBinary(b) }
	if err := decodes(c.enc); err != nil {
		t.Fatal(err)
	}
	again, _ := pf.MarshalBinary()
	if !bytes.Equal(again, c.enc) {
		t.Fatal("re-encoding differs")
	}
	item := func(i int) (lo, hi int) { return 1 + 32*i, 1 + 32*(i+1) } // item i of the layout
	with := func(i int, v []byte) []byte {
		b := bytes.Clone(c.enc)
		lo, hi := item(i)
		copy(b[lo:hi], v)
		return b
	}
	ell := leBytes(new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 252), mustBig("27742317777372353535851937790883648493")))
	ffs := bytes.Repeat([]byte{0xff}, 32)
	zero := make([]byte, 32)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"tag only", c.enc[:1]},
		{"truncated", c.enc[:len(c.enc)-1]},
		{"trailing byte", append(bytes.Clone(c.enc), 0)},
		{"trailing item", append(bytes.Clone(c.enc), c.enc[1:33]...)},
		{"prediction-proof tag", append([]byte{proofVersion}, c.enc[1:]...)},
		{"A = identity", with(0, zero)},
		{"A non-canonical", with(0, ffs)},
		{"T2 non-canonical", with(3, ffs)},
		{"L[0] = identity", with(7, zero)},
		{"τx = ℓ", with(4, ell)},
		{"t̂ = 2^256 − 1", with(6, ffs)},
		{"b[3] = ℓ", with(boundsFixedItems+2*boundsRounds(3)-1, ell)},
	} {
		if err := decodes(tc.b); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// Text form: strict base64.
	txt, _ := c.proof.MarshalText()
	if err := pf.UnmarshalText(txt); err != nil {
		t.Fatal(err)
	}
	if err := pf.UnmarshalText(append(bytes.Clone(txt), '\n')); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("base64 with newline: %v", err)
	}
}

func mustBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

// VerifyBounds is a function of its arguments: the same verdict and error
// every time, from any goroutine.
func TestVerifyBoundsDeterministic(t *testing.T) {
	c := newBoundsCase(t, "determinism", []int64{1, 2, 3, 4, 5}, []Interval{{0, 9}, {0, 9}, {0, 9}, {0, 9}, {0, 9}})
	bad := append([]Interval(nil), c.bounds...)
	bad[4].Hi = 5
	want := VerifyBounds(c.ctx, c.commitments, bad, c.proof)
	if want == nil {
		t.Fatal("changed interval verified")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				if err := c.verify(); err != nil {
					errs <- err
				}
				if err := VerifyBounds(c.ctx, c.commitments, bad, c.proof); err == nil || err.Error() != want.Error() {
					errs <- fmt.Errorf("got %v, want %v", err, want)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Prover randomness is hedged: a stuck source gives identical proofs of
// identical statements and unrelated masks for different ones.
func TestBoundsHedgedRandomness(t *testing.T) {
	bl := randomBlindings(t, newSeededReader("hedge"), 2)
	bounds := []Interval{{0, 100}, {0, 100}}
	prove := func(values []int64, r io.Reader) []byte {
		pf, err := ProveBounds([]byte("hedge"), values, bl, bounds, r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pf.MarshalBinary()
		return b
	}
	p1 := prove([]int64{1, 2}, newSeededReader("stuck"))
	p2 := prove([]int64{1, 2}, newSeededReader("stuck"))
	p3 := prove([]int64{1, 3}, newSeededReader("stuck"))
	p4 := prove([]int64{1, 2}, rand.Reader)
	if !bytes.Equal(p1, p2) {
		t.Error("same statement and randomness: different proofs")
	}
	if bytes.Equal(p1[1+32:1+64], p3[1+32:1+64]) {
		t.Error("stuck randomness, different values: the masks' commitment S repeats")
	}
	if bytes.Equal(p1, p4) {
		t.Error("fresh randomness gave the same proof")
	}
}

// sitesWithCancellingBlindings builds the secure-aggregation setting: every
// pair of sites (i < k) shares a secret; site i's blinding for index j is
// Σ_{k>i} PRF(s_ik, j) − Σ_{k<i} PRF(s_ki, j), so the blindings of all
// sites add up to zero.
func sitesWithCancellingBlindings(t testing.TB, values [][]int64) [][]Commitment {
	t.Helper()
	n := len(values)
	prf := func(i, k, j int) Scalar {
		h := sha512.Sum512([]byte(fmt.Sprintf("pairwise-secret-%d-%d/index-%d", i, k, j)))
		return ScalarFromUniform(h)
	}
	out := make([][]Commitment, n)
	for i := range values {
		bl := make([]Scalar, len(values[i]))
		for j := range bl {
			for k := 0; k < n; k++ {
				switch {
				case k > i:
					bl[j] = bl[j].Add(prf(i, k, j))
				case k < i:
					bl[j] = bl[j].Sub(prf(k, i, j))
				}
			}
		}
		cs, err := CommitValues(values[i], bl)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = cs
	}
	return out
}

// Three sites whose blindings cancel: the commitments add up to the
// aggregate, and to nothing else.
func TestSumOpensTo(t *testing.T) {
	values := [][]int64{
		{10, -5, 1 << 40, 0, math.MaxInt64 / 4},
		{20, -6, 3, 0, math.MaxInt64 / 4},
		{30, 11, -(1 << 40), 0, math.MaxInt64 / 4},
	}
	sums := []int64{60, 0, 3, 0, 3 * (math.MaxInt64 / 4)}
	cs := sitesWithCancellingBlindings(t, values)
	if err := SumOpensTo(cs, sums); err != nil {
		t.Fatal(err)
	}
	fails := func(what string, cs [][]Commitment, sums []int64, index int) {
		t.Helper()
		err := SumOpensTo(cs, sums)
		if !errors.Is(err, ErrSumMismatch) || !strings.Contains(err.Error(), fmt.Sprint("index ", index)) {
			t.Errorf("%s: err = %v, want ErrSumMismatch at index %d", what, err, index)
		}
	}
	copyCs := func() [][]Commitment {
		out := make([][]Commitment, len(cs))
		for i := range cs {
			out[i] = append([]Commitment(nil), cs[i]...)
		}
		return out
	}
	for j := range sums {
		off := append([]int64(nil), sums...)
		off[j]++
		fails(fmt.Sprintf("sum %d off by one", j), cs, off, j)
	}
	for i := range values {
		for j := range values[i] {
			// A site changes a value but keeps its blinding.
			changed := append([]int64(nil), values[i]...)
			changed[j]--
			recs := copyCs()
			recs[i] = sitesWithCancellingBlindingsAt(t, values, i, changed)
			fails(fmt.Sprintf("site %d changed value %d", i, j), recs, sums, j)
		}
	}
	swapped := copyCs()
	swapped[1][2], swapped[1][3] = swapped[1][3], swapped[1][2]
	fails("a site's commitments swapped", swapped, sums, 2)
	replaced := copyCs()
	replaced[0][4], _ = CommitValue(math.MaxInt64/4, ScalarFromInt64(1))
	fails("a commitment replaced", replaced, sums, 4)
	fails("a site missing", cs[:2], sums, 0)

	// An aggregate that overflows int64 does not open to its wrapped value.
	big := [][]int64{{math.MaxInt64}, {1}}
	bcs := sitesWithCancellingBlindings(t, big)
	fails("wrapped aggregate", bcs, []int64{math.MinInt64}, 0)

	// Malformed input.
	if err := SumOpensTo(nil, nil); !errors.Is(err, ErrDimension) {
		t.Errorf("no sites: %v", err)
	}
	if err := SumOpensTo([][]Commitment{cs[0], cs[1][:4]}, sums); !errors.Is(err, ErrDimension) {
		t.Errorf("ragged: %v", err)
	}
	bad := copyCs()
	bad[2][1] = Commitment{}
	if err := SumOpensTo(bad, sums); !errors.Is(err, ErrEncoding) {
		t.Errorf("identity commitment: %v", err)
	}
}

// sitesWithCancellingBlindingsAt is site i's commitments to changed, with
// the blindings the pairwise scheme gives site i among len(values) sites.
func sitesWithCancellingBlindingsAt(t *testing.T, values [][]int64, i int, changed []int64) []Commitment {
	t.Helper()
	vs := make([][]int64, len(values))
	copy(vs, values)
	vs[i] = changed
	return sitesWithCancellingBlindings(t, vs)[i]
}

// Three sites each prove their contribution in bounds and the ledger
// checks the proofs (one batch) and the aggregate.
func TestBoundsAndAggregate(t *testing.T) {
	values := [][]int64{{12, 3400, -7}, {15, 2900, 0}, {9, 4100, 3}}
	bounds := []Interval{{0, 20}, {0, 5000}, {-10, 10}}
	cs := sitesWithCancellingBlindings(t, values)
	var items []BoundsItem
	for i := range values {
		// Recover site i's blindings the same way the helper does.
		bl := cancellingBlindings(len(values), i, len(bounds))
		ctx := NewContext("medchain-test", "job-7/round-1", fmt.Sprint("site-", i))
		pf, err := ProveBounds(ctx, values[i], bl, bounds, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, BoundsItem{ctx, cs[i], bounds, pf})
	}
	if err := VerifyBoundsBatch(items); err != nil {
		t.Fatal(err)
	}
	for i := range items {
		if err := VerifyBounds(items[i].Context, items[i].Commitments, items[i].Bounds, items[i].Proof); err != nil {
			t.Fatalf("site %d: %v", i, err)
		}
	}
	if err := SumOpensTo(cs, []int64{36, 10400, -4}); err != nil {
		t.Fatal(err)
	}
	// A batch with one bad item names it.
	items[1].Context = []byte("elsewhere")
	var be *BatchError
	if err := VerifyBoundsBatch(items); !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("batch with a bad item: %v", err)
	}
	if err := VerifyBoundsBatch(nil); err != nil {
		t.Fatal(err)
	}
}

// cancellingBlindings are the blindings sitesWithCancellingBlindings gives
// site i of n for m values.
func cancellingBlindings(n, i, m int) []Scalar {
	bl := make([]Scalar, m)
	for j := range bl {
		for k := 0; k < n; k++ {
			a, b := min(i, k), max(i, k)
			h := ScalarFromUniform(sha512.Sum512([]byte(fmt.Sprintf("pairwise-secret-%d-%d/index-%d", a, b, j))))
			switch {
			case k > i:
				bl[j] = bl[j].Add(h)
			case k < i:
				bl[j] = bl[j].Sub(h)
			}
		}
	}
	return bl
}

// Scalar arithmetic agrees with math/big mod ℓ, and the encodings are
// canonical.
func TestScalar(t *testing.T) {
	ell := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 252), mustBig("27742317777372353535851937790883648493"))
	toBig := func(s Scalar) *big.Int {
		b := make([]byte, 32)
		for i := range b {
			b[i] = s[31-i]
		}
		return new(big.Int).SetBytes(b)
	}
	fromBig := func(v *big.Int) Scalar {
		var s Scalar
		copy(s[:], leBytes(v))
		return s
	}
	rng := mrand.New(mrand.NewPCG(9, 9))
	for i := 0; i < 200; i++ {
		var u1, u2 [64]byte
		for k := range u1 {
			u1[k], u2[k] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if i == 0 {
			for k := range u1 {
				u1[k] = 0xff
			}
		}
		a, b := ScalarFromUniform(u1), ScalarFromUniform(u2)
		wide := func(u [64]byte) *big.Int {
			r := make([]byte, 64)
			for k := range r {
				r[k] = u[63-k]
			}
			return new(big.Int).Mod(new(big.Int).SetBytes(r), ell)
		}
		A, B := wide(u1), wide(u2)
		if toBig(a).Cmp(A) != 0 || !a.IsCanonical() {
			t.Fatal("ScalarFromUniform is not the wide reduction")
		}
		mod := func(v *big.Int) *big.Int { return v.Mod(v, ell) }
		if toBig(a.Add(b)).Cmp(mod(new(big.Int).Add(A, B))) != 0 ||
			toBig(a.Sub(b)).Cmp(mod(new(big.Int).Sub(A, B))) != 0 ||
			toBig(a.Neg()).Cmp(mod(new(big.Int).Neg(A))) != 0 {
			t.Fatal("arithmetic disagrees with math/big")
		}
		if !a.Add(a.Neg()).IsZero() || a.Sub(b).Add(b) != a {
			t.Fatal("a + (−a) ≠ 0 or (a − b) + b ≠ a")
		}
		txt, _ := a.MarshalText()
		var back Scalar
		if err := back.UnmarshalText(txt); err != nil || back != a {
			t.Fatalf("text round trip: %v", err)
		}
	}
	if ScalarFromInt64(-1) != (Scalar{}).Sub(ScalarFromInt64(1)) || toBig(ScalarFromInt64(math.MinInt64)).Cmp(new(big.Int).Sub(ell, new(big.Int).Lsh(big.NewInt(1), 63))) != 0 {
		t.Fatal("ScalarFromInt64")
	}
	L := fromBig(ell)
	if L.IsCanonical() || !L.IsZero() || L.Add(Scalar{}) != (Scalar{}) {
		t.Fatal("ℓ must be non-canonical, ≡ 0, and reduce to 0")
	}
	var s Scalar
	for _, bad := range []string{
		L.String(), strings.Repeat("f", 64), strings.Repeat("0", 62), strings.Repeat("0", 66), "zz" + strings.Repeat("0", 62),
	} {
		if err := s.UnmarshalText([]byte(bad)); !errors.Is(err, ErrEncoding) {
			t.Errorf("UnmarshalText(%q): %v", bad, err)
		}
	}
	js, _ := json.Marshal(ScalarFromInt64(1))
	if string(js) != `"01`+strings.Repeat("0", 62)+`"` {
		t.Errorf("JSON %s", js)
	}
}

// Value commitments are Pedersen commitments with the package's B and H:
// additively homomorphic, negation-symmetric, and the same point for the
// same opening whatever the vector around it.
func TestCommitValues(t *testing.T) {
	r := randomBlindings(t, rand.Reader, 2)
	c1, _ := CommitValue(1000, r[0])
	c2, _ := CommitValue(-58, r[1])
	c3, _ := CommitValue(942, r[0].Add(r[1]))
	if err := SumOpensTo([][]Commitment{{c1}, {c2}, {c3}}, []int64{1884}); err == nil {
		t.Fatal("blindings do not cancel, yet the sum opened")
	}
	n1, _ := CommitValue(-1000, r[0].Neg())
	if err := SumOpensTo([][]Commitment{{c1}, {n1}}, []int64{0}); err != nil {
		t.Fatalf("C(v, r) + C(−v, −r) ≠ 0: %v", err)
	}
	// C(1000, r0) + C(−58, r1) − C(942, r0 + r1) = 0, via the sum check.
	neg3, _ := CommitValue(-942, r[0].Add(r[1]).Neg())
	if err := SumOpensTo([][]Commitment{{c1}, {c2}, {neg3}}, []int64{0}); err != nil {
		t.Fatalf("not homomorphic: %v", err)
	}
	vs, err := CommitValues([]int64{7, 1000}, []Scalar{r[1], r[0]})
	if err != nil || vs[1] != c1 {
		t.Fatalf("CommitValues: %v", err)
	}
	// v·B with r = 0 is the package's value base times v.
	cb, _ := CommitValue(1, Scalar{})
	if cb != Commitment(store.B.enc) {
		t.Fatal("CommitValue(1, 0) ≠ B")
	}
	if _, err := CommitValues([]int64{1, 2}, r[:1]); !errors.Is(err, ErrDimension) {
		t.Errorf("length mismatch: %v", err)
	}
}

// nielsEncoding is the ristretto255 encoding of an affine Niels point.
func nielsEncoding(n *ed.NielsPoint) [32]byte {
	var p ed.ExtendedPoint
	nielsToExtended(&p, n)
	return newElement(&p).enc
}

// The bounds generators are the hash-to-group points of their own labels,
// distinct from the prediction proof's, and the store hands out the same
// points however it grows, from any goroutine.
func TestBoundsGenerators(t *testing.T) {
	var wg sync.WaitGroup
	for _, n := range []int{128, 256, 1024, 128, 512} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			boundsGenerators(n)
		}()
	}
	wg.Wait()
	g, h := boundsGenerators(1024)
	for _, i := range []int{0, 1, 127, 128, 1023} {
		wantG, wantH := hashToGenerator(boundsLabelG, uint32(i)), hashToGenerator(boundsLabelH, uint32(i))
		if nielsEncoding(&g[i]) != newElement(&wantG).enc || nielsEncoding(&h[i]) != newElement(&wantH).enc {
			t.Fatalf("generator %d differs from its derivation", i)
		}
	}
	if err := PrepareBoundsGenerators(8); err != nil {
		t.Fatal(err)
	}
	for _, m := range []int{0, -1, MaxBoundsValues + 1} {
		if err := PrepareBoundsGenerators(m); !errors.Is(err, ErrDimension) {
			t.Errorf("PrepareBoundsGenerators(%d): %v", m, err)
		}
	}
	initStore()
	if nielsEncoding(&g[0]) == store.g[0].enc || nielsEncoding(&h[0]) == store.h[0].enc {
		t.Fatal("bounds generators coincide with the prediction proof's")
	}
}

// The documented capacity: a contribution of 300 values (600 range
// statements, padded to 1024 — the longest vectors the generator cap of
// MaxBoundsValues allows) proves and verifies. Slow (the 131072 generators
// are derived on first use), so not in -short.
func TestBoundsLargeVector(t *testing.T) {
	if testing.Short() {
		t.Skip("derives 131072 generators and proves 300 values")
	}
	const m = 300
	rng := mrand.New(mrand.NewPCG(m, 2))
	values, bounds := randomContribution(rng, m)
	c := newBoundsCase(t, "large", values, bounds)
	if err := c.verify(); err != nil {
		t.Fatal(err)
	}
	if len(c.enc) != BoundsProofSize(m) || boundsPaddedLen(m) != maxBoundsLen {
		t.Fatalf("%d bytes, padded length %d", len(c.enc), boundsPaddedLen(m))
	}
	bad := append([]Interval(nil), bounds...)
	bad[m-1].Lo--
	if err := VerifyBounds(c.ctx, c.commitments, bad, c.proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("changed last interval: %v", err)
	}
}
