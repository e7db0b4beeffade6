package zk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
	"github.com/gtank/ristretto255"
)

// RFC 9496, Appendix A.1: encodings of 0·B … 15·B.
var rfc9496Multiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
	"da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
	"e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
	"f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
	"44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
	"903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
	"02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
	"20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
	"bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
	"e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
	"aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
	"46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
	"e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
}

// RFC 9496, Appendix A.2: invalid encodings (non-canonical field
// elements, negative field elements, non-square x², negative xy, s = −1).
var rfc9496Bad = []string{
	"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
	"c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
	"c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
	"47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
	"f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
	"87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
	"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
	"4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
	"de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
	"bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
	"2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
	"f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
	"8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
	"2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
	"3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
	"a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
	"d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
	"8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
	"32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
	"227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
	"5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
	"445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The group encoding is RFC 9496's: small multiples of the generator
// round-trip, the identity is refused, every invalid encoding is refused.
func TestDecodeElementRFC9496(t *testing.T) {
	var base, acc ed.ExtendedPoint
	base.SetBase()
	acc.SetZero()
	for i, h := range rfc9496Multiples {
		e, err := decodeElement(unhex(t, h))
		if i == 0 {
			if !errors.Is(err, errIdentityPoint) {
				t.Fatalf("identity accepted: %v", err)
			}
		} else {
			if err != nil {
				t.Fatalf("%d·B: %v", i, err)
			}
			if e.p.RistrettoEqualsI(&acc) != 1 {
				t.Fatalf("%d·B decodes to the wrong point", i)
			}
		}
		if got := newElement(&acc).enc; hex.EncodeToString(got[:]) != h {
			t.Fatalf("%d·B encodes as %x", i, got)
		}
		addExtended(&acc, &base)
	}
	for _, h := range rfc9496Bad {
		if _, err := decodeElement(unhex(t, h)); err == nil {
			t.Fatalf("accepted invalid encoding %s", h)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := decodeElement(make([]byte, n)); err == nil {
			t.Fatalf("accepted a %d-byte point", n)
		}
	}
}

var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func leBytes(x *big.Int) []byte {
	b := make([]byte, 32)
	x.FillBytes(b)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

func scalarBig(s *scalar) *big.Int {
	b := scalarBytes(s)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return new(big.Int).SetBytes(b[:])
}

func TestDecodeScalarCanonical(t *testing.T) {
	one := big.NewInt(1)
	for _, tc := range []struct {
		v  *big.Int
		ok bool
	}{
		{big.NewInt(0), true},
		{new(big.Int).Sub(groupOrder, one), true},
		{groupOrder, false},
		{new(big.Int).Add(groupOrder, one), false},
		{new(big.Int).Sub(new(big.Int).Lsh(one, 256), one), false},
	} {
		_, err := decodeScalar(leBytes(tc.v))
		if (err == nil) != tc.ok {
			t.Errorf("decodeScalar(%v): err = %v, want ok = %v", tc.v, err, tc.ok)
		}
	}
}

func TestScalarFromInt64(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 42, -42, 1 << 62, -1 << 63, 1<<63 - 1} {
		s := scalarFromInt64(v)
		want := new(big.Int).Mod(big.NewInt(v), groupOrder)
		if got := scalarBig(&s); got.Cmp(want) != 0 {
			t.Errorf("scalarFromInt64(%d) = %v, want %v", v, got, want)
		}
	}
}

func randScalars(rng *rand.Rand, n int) []scalar {
	out := make([]scalar, n)
	for i := range out {
		var b [64]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		out[i].SetReduced(&b)
	}
	return out
}

// edgeScalars are the digits decompositions' corner cases.
func edgeScalars() []scalar {
	var out []scalar
	for _, v := range []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2), big.NewInt(127), big.NewInt(128), big.NewInt(255),
		new(big.Int).Sub(groupOrder, big.NewInt(1)),
		new(big.Int).Lsh(big.NewInt(1), 252),
		new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 252), big.NewInt(1)),
	} {
		s, err := decodeScalar(leBytes(v))
		if err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

// Every digit decomposition must add back up to the scalar.
func TestDigitDecompositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range append(edgeScalars(), randScalars(rng, 200)...) {
		want := scalarBig(&s)
		for _, w := range []uint{dynamicWidth, fixedWidth} {
			var naf [256]int8
			wnaf(naf[:], 1, &s, w)
			sum := new(big.Int)
			last := -1000
			for i := 255; i >= 0; i-- {
				d := int64(naf[i])
				if d == 0 {
					continue
				}
				if d%2 == 0 || d >= 1<<(w-1) || d <= -(1<<(w-1)) {
					t.Fatalf("w=%d: bad digit %d", w, d)
				}
				if last-i < int(w) && last != -1000 {
					t.Fatalf("w=%d: digits closer than w", w)
				}
				last = i
				sum.Add(sum, new(big.Int).Lsh(big.NewInt(d), uint(i)))
			}
			if sum.Cmp(want) != 0 {
				t.Fatalf("w=%d NAF of %v sums to %v", w, want, sum)
			}
		}
		var r16 [64]int8
		radix16(&r16, &s)
		sum := new(big.Int)
		for i := 63; i >= 0; i-- {
			if r16[i] < -8 || r16[i] > 8 {
				t.Fatalf("radix-16 digit %d", r16[i])
			}
			sum.Lsh(sum, 4).Add(sum, big.NewInt(int64(r16[i])))
		}
		if sum.Cmp(want) != 0 {
			t.Fatalf("radix-16 of %v sums to %v", want, sum)
		}
		for c := uint(4); c <= 16; c++ {
			digits := make([]int32, (253+int(c)-1)/int(c)+1)
			signedDigits(digits, &s, c)
			sum := new(big.Int)
			for i := len(digits) - 1; i >= 0; i-- {
				if d := int64(digits[i]); d > 1<<(c-1) || d < -(1<<(c-1)) {
					t.Fatalf("c=%d: digit %d out of range", c, d)
				}
				sum.Lsh(sum, c).Add(sum, big.NewInt(int64(digits[i])))
			}
			if sum.Cmp(want) != 0 {
				t.Fatalf("c=%d digits of %v sum to %v", c, want, sum)
			}
		}
	}
}

func TestCtSelect(t *testing.T) {
	initStore()
	g := store.g[0]
	for d := -8; d <= 8; d++ {
		var sel ed.NielsPoint
		ctSelect(&sel, &g.ct, int8(d))
		got := identity()
		addNiels(&got, &sel)
		want := naiveMSM([]ed.ExtendedPoint{g.p}, []scalar{scalarFromInt64(int64(d))})
		if got.RistrettoEqualsI(&want) != 1 {
			t.Fatalf("ctSelect(%d) wrong", d)
		}
	}
}

func TestToNiels(t *testing.T) {
	initStore()
	pts := []ed.ExtendedPoint{store.g[0].p, store.h[5].p}
	addExtended(&pts[1], &pts[0]) // Z ≠ 1
	got := make([]ed.NielsPoint, len(pts))
	toNiels(got, pts)
	for i := range pts {
		var want ed.NielsPoint
		want.SetExtended(&pts[i])
		a, b := identity(), identity()
		addNiels(&a, &got[i])
		addNiels(&b, &want)
		if a.RistrettoEqualsI(&b) != 1 {
			t.Fatalf("toNiels[%d] differs from SetExtended", i)
		}
	}
}

func naiveMSM(points []ed.ExtendedPoint, scalars []scalar) ed.ExtendedPoint {
	acc := identity()
	for i := range points {
		var p ed.ExtendedPoint
		b := scalarBytes(&scalars[i])
		p.ScalarMult(&points[i], &b)
		addExtended(&acc, &p)
	}
	return acc
}

// gtankMSM is the same sum computed by an independent implementation
// (gtank/ristretto255), compared on encodings.
func gtankMSM(t *testing.T, points []ed.ExtendedPoint, scalars []scalar) []byte {
	ps := make([]*ristretto255.Element, len(points))
	ss := make([]*ristretto255.Scalar, len(points))
	for i := range points {
		e := newElement(&points[i])
		ps[i] = ristretto255.NewElement()
		if err := ps[i].Decode(e.enc[:]); err != nil {
			t.Fatal(err)
		}
		b := scalarBytes(&scalars[i])
		ss[i] = ristretto255.NewScalar()
		if err := ss[i].Decode(b[:]); err != nil {
			t.Fatal(err)
		}
	}
	return ristretto255.NewElement().VarTimeMultiScalarMult(ss, ps).Encode(nil)
}

// All three multi-scalar multiplications agree with the naive sum and with
// gtank/ristretto255, for sizes around the algorithm switch-overs.
func TestMSMAgainstReferences(t *testing.T) {
	initStore()
	rng := rand.New(rand.NewPCG(3, 4))
	gens := store.gh
	for _, n := range []int{1, 2, 7, 64, 200} {
		sc := randScalars(rng, n)
		copy(sc, edgeScalars())
		fixed := gens[:n]
		pts := make([]ed.ExtendedPoint, n)
		for i := range pts {
			pts[i] = fixed[i].p
			if i%2 == 1 {
				addExtended(&pts[i], &fixed[i-1].p) // not a table generator
			}
		}
		want := naiveMSM(pts, sc)
		wantEnc := newElement(&want).enc
		if got := gtankMSM(t, pts, sc); !bytes.Equal(got, wantEnc[:]) {
			t.Fatalf("n=%d: gtank/ristretto255 disagrees with the naive sum", n)
		}
		check := func(name string, got ed.ExtendedPoint, want ed.ExtendedPoint) {
			t.Helper()
			if got.RistrettoEqualsI(&want) != 1 {
				t.Fatalf("n=%d: %s wrong", n, name)
			}
		}
		fixedPts := make([]ed.ExtendedPoint, n)
		for i := range fixed {
			fixedPts[i] = fixed[i].p
		}
		wantFixed := naiveMSM(fixedPts, sc)
		check("ctMSM", ctMSM(fixed, sc), wantFixed)
		check("straus(fixed)", straus(fixed, sc, nil, nil), wantFixed)
		check("straus(points)", straus(nil, nil, pts, sc), want)
		niels := make([]ed.NielsPoint, n)
		toNiels(niels, pts)
		check("pippenger", pippenger(niels, sc), want)
		var m msm
		for i := range fixed {
			m.addFixed(fixed[i], sc[i])
			m.addPoint(&pts[i], sc[i])
		}
		both := wantFixed
		addExtended(&both, &want)
		check("msm", m.eval(), both)
		bits := make([]uint8, n)
		for i := range bits {
			bits[i] = uint8(rng.IntN(2))
		}
		if n <= rangeLen {
			sel := ctBitSelectSum(store.g[:n], store.h[:n], bits)
			want := identity()
			for i := range bits {
				if bits[i] == 1 {
					addExtended(&want, &store.g[i].p)
				} else {
					subExtended(&want, &store.h[i].p)
				}
			}
			check("ctBitSelectSum", sel, want)
		}
	}
}

// Generators are derived, distinct and pinned by the digest.
func TestParams(t *testing.T) {
	for _, d := range []int{0, -1, MaxFeatures + 1} {
		if _, err := NewParams(d); !errors.Is(err, ErrDimension) {
			t.Errorf("NewParams(%d): %v", d, err)
		}
	}
	p := mustParams(t, 100)
	if p.n != 128 || p.log != 7 || len(p.G) != 128 {
		t.Fatalf("d=100: n=%d log=%d", p.n, p.log)
	}
	seen := map[[32]byte]bool{}
	for _, g := range append(append([]*fixedGen{store.B, store.H, store.U}, store.gh...), p.G...) {
		if seen[g.enc] || g.enc == zeroEncoding {
			t.Fatalf("duplicate or identity generator %x", g.enc)
		}
		seen[g.enc] = true
	}
	if q := mustParams(t, 101); q.Digest() == p.Digest() {
		t.Fatal("different dimensions share a digest")
	}
	if q := mustParams(t, 100); q != p {
		t.Fatal("params not cached")
	}
	g := hashToGenerator("G", 3)
	if g.RistrettoEqualsI(&p.G[3].p) != 1 {
		t.Fatal("G_3 is not hash_to_ristretto255(\"G\" ‖ 0 ‖ 3)")
	}
}
