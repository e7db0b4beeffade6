package zk

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

func TestQuantize(t *testing.T) {
	m := Model{Weights: []float64{0.5, -0.25, 1.0 / 3, -1e-9}, Intercept: -2.75, Scale: 16}
	q, err := m.Quantize()
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{32768, -16384, 21845, 0}
	for i := range want {
		if q.Weights[i] != want[i] {
			t.Errorf("weight %d = %d, want %d", i, q.Weights[i], want[i])
		}
	}
	// The intercept lives at the score's scale, 2^32.
	if q.Intercept != -11811160064 {
		t.Errorf("intercept = %d", q.Intercept)
	}
	for _, bad := range []Model{
		{Weights: []float64{math.NaN()}, Scale: 16},
		{Weights: []float64{math.Inf(-1)}, Scale: 16},
		{Weights: []float64{1e30}, Scale: 16},
		{Weights: []float64{1}, Intercept: 8, Scale: 30}, // 8·2^60 overflows
		{Weights: []float64{1}, Scale: MaxScale + 1},
	} {
		if _, err := bad.Quantize(); !errors.Is(err, ErrQuantize) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	x, err := QuantizeInputs([]float64{1.5, -0.000007}, 16)
	if err != nil || x[0] != 98304 || x[1] != 0 {
		t.Errorf("QuantizeInputs = %v, %v", x, err)
	}
}

// The integer score is exact, including at the extremes of int64, and
// approximates the real-valued logit at scale 2^(2·Scale).
func TestScoreExact(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	for iter := 0; iter < 500; iter++ {
		d := 1 + rng.IntN(20)
		q := QuantizedModel{Weights: make([]int64, d), Intercept: int64(rng.Uint64())}
		x := make([]int64, d)
		want := big.NewInt(q.Intercept)
		for i := range x {
			q.Weights[i], x[i] = int64(rng.Uint64())>>rng.IntN(64), int64(rng.Uint64())>>rng.IntN(64)
			if iter%50 == 0 {
				q.Weights[i], x[i] = math.MinInt64, math.MinInt64
			}
			want.Add(want, new(big.Int).Mul(big.NewInt(q.Weights[i]), big.NewInt(x[i])))
		}
		got, err := q.Score(x)
		if want.IsInt64() {
			if err != nil || got != want.Int64() {
				t.Fatalf("Score = %d, %v; want %v", got, err, want)
			}
		} else if !errors.Is(err, ErrQuantize) {
			t.Fatalf("Score of out-of-range %v: %d, %v", want, got, err)
		}
	}

	m := Model{Weights: []float64{0.8, -1.3, 0.05}, Intercept: -0.7, Scale: 16}
	xs := []float64{1.2, 0.4, 63}
	q, _ := m.Quantize()
	xq, _ := QuantizeInputs(xs, 16)
	s, _ := q.Score(xq)
	logit := m.Intercept
	for i := range xs {
		logit += m.Weights[i] * xs[i]
	}
	if got := math.Ldexp(float64(s), -32); math.Abs(got-logit) > 1e-3 {
		t.Fatalf("score/2^32 = %v, logit = %v", got, logit)
	}
	if _, err := q.Score(xq[:2]); !errors.Is(err, ErrDimension) {
		t.Fatalf("short input: %v", err)
	}
}

// Risk thresholds map to integer edges through their logits: a score is
// at or above the edge exactly when its logit is at or above the threshold.
func TestEdgesFromProbabilities(t *testing.T) {
	edges, err := EdgesFromProbabilities([]float64{0.10, 0.20}, 16)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []float64{0.10, 0.20} {
		l := Logit(p) // −2.197…, −1.386…
		e := edges[i]
		if math.Ldexp(float64(e), -32) < l || math.Ldexp(float64(e-1), -32) >= l {
			t.Fatalf("edge %d for logit %v is not ceil(logit·2^32)", e, l)
		}
		sigmoid := func(s int64) float64 { return 1 / (1 + math.Exp(-math.Ldexp(float64(s), -32))) }
		if sigmoid(e) < p-1e-12 || sigmoid(e-1) >= p+1e-12 {
			t.Fatalf("risk at edge %v / below %v around %v", sigmoid(e), sigmoid(e-1), p)
		}
	}
	buckets, err := BucketsFromEdges(edges)
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 3 || buckets[0].Lo != math.MinInt64 || buckets[2].Hi != math.MaxInt64 ||
		buckets[0].Hi != edges[0] || buckets[1] != (Bucket{edges[0], edges[1]}) || buckets[2].Lo != edges[1] {
		t.Fatalf("buckets %v", buckets)
	}
	if i, ok := FindBucket(buckets, edges[1]-1); !ok || i != 1 {
		t.Fatalf("FindBucket = %d, %v", i, ok)
	}
	for _, bad := range [][]float64{{0.2, 0.1}, {0}, {1}, {math.NaN()}} {
		if _, err := EdgesFromProbabilities(bad, 16); err == nil {
			t.Errorf("accepted thresholds %v", bad)
		}
	}
	for _, bad := range [][]int64{{5, 5}, {5, 4}, {math.MinInt64}, {math.MaxInt64}} {
		if _, err := BucketsFromEdges(bad); !errors.Is(err, ErrBucket) {
			t.Errorf("accepted edges %v: %v", bad, err)
		}
	}
	if err := (Bucket{3, 3}).Check(); !errors.Is(err, ErrBucket) {
		t.Fatal("empty bucket accepted")
	}
}

// The owner's opening and the public commitment survive JSON, and the
// commitment's text form refuses what is not a valid group element.
func TestCommitmentAndOpeningJSON(t *testing.T) {
	q := QuantizedModel{Weights: []int64{3, -4, 5}, Intercept: -6, Scale: 16}
	c, o := mustCommit(t, q, rand.Reader)
	if err := o.Matches(c); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(struct {
		C Commitment
		O Opening
	}{c, o})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		C Commitment
		O Opening
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.C != c || back.O.Blinding != o.Blinding || back.O.Intercept != -6 || len(back.O.Weights) != 3 {
		t.Fatalf("round trip: %s", js)
	}
	if err := back.O.Matches(back.C); err != nil {
		t.Fatal(err)
	}
	other, _ := mustCommit(t, q, rand.Reader)
	if err := o.Matches(other); !errors.Is(err, ErrOpeningMismatch) {
		t.Fatalf("opening matched a different commitment: %v", err)
	}
	for _, bad := range []string{
		`"00"`,
		`"` + rfc9496Multiples[0] + `"`, // identity
		`"` + rfc9496Bad[3] + `"`,       // non-canonical
		`"zz` + rfc9496Multiples[1][2:] + `"`,
	} {
		var c Commitment
		if err := json.Unmarshal([]byte(bad), &c); !errors.Is(err, ErrEncoding) {
			t.Errorf("commitment %s: %v", bad, err)
		}
	}
	var b Blinding
	if err := b.UnmarshalText([]byte("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")); !errors.Is(err, ErrEncoding) {
		t.Errorf("non-canonical blinding accepted: %v", err)
	}
}

// Hiding: committing to the same weights twice gives unrelated commitments.
func TestCommitmentHiding(t *testing.T) {
	q := QuantizedModel{Weights: []int64{1, 2, 3}, Scale: 16}
	c1, _ := mustCommit(t, q, rand.Reader)
	c2, _ := mustCommit(t, q, rand.Reader)
	if c1 == c2 {
		t.Fatal("same weights, same commitment")
	}
}

func TestNewContext(t *testing.T) {
	a := NewContext("chain", "model-1", "req")
	b := NewContext("chain", "model-", "1req")
	if string(a) == string(b) {
		t.Fatal("context encoding is ambiguous")
	}
}
