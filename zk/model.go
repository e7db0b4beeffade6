package zk

import (
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/bits"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

const (
	// DefaultScale is the default number of fractional bits: weights and
	// inputs are multiplied by 2^16 and rounded.
	DefaultScale = 16

	// MaxScale bounds Scale so that the intercept, quantised at 2^(2·Scale),
	// can still hold useful values in an int64.
	MaxScale = 30
)

// Model is a linear model over real-valued features,
//
//	logit = Σ Weights[i]·x[i] + Intercept,
//
// to be quantised to fixed point with Scale fractional bits.
type Model struct {
	Weights   []float64 `json:"weights"`
	Intercept float64   `json:"intercept"`
	Scale     uint      `json:"scale"`
}

// QuantizedModel is a model in the integers the proofs speak about:
// Weights[i] = round(w_i·2^Scale), Intercept = round(b·2^(2·Scale)). With
// inputs quantised as round(x_i·2^Scale), the integer score
//
//	score = Σ Weights[i]·x[i] + Intercept ≈ 2^(2·Scale)·logit
//
// is at scale 2^(2·Scale): the product of the weight and input scales.
type QuantizedModel struct {
	Weights   []int64 `json:"weights"`
	Intercept int64   `json:"intercept"`
	Scale     uint    `json:"scale"`
}

// quantize returns round(v·2^scale), or an error if v is not finite or the
// result does not fit an int64.
func quantize(v float64, scale uint) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %v is not finite", ErrQuantize, v)
	}
	q := math.Round(math.Ldexp(v, int(scale)))
	if q < -(1<<63) || q >= 1<<63 {
		return 0, fmt.Errorf("%w: %v does not fit 64 bits at scale 2^%d", ErrQuantize, v, scale)
	}
	return int64(q), nil
}

func checkScale(scale uint) error {
	if scale > MaxScale {
		return fmt.Errorf("%w: scale %d above %d", ErrQuantize, scale, MaxScale)
	}
	return nil
}

// Quantize converts the model to fixed point.
func (m Model) Quantize() (QuantizedModel, error) {
	if err := checkScale(m.Scale); err != nil {
		return QuantizedModel{}, err
	}
	q := QuantizedModel{Weights: make([]int64, len(m.Weights)), Scale: m.Scale}
	for i, w := range m.Weights {
		v, err := quantize(w, m.Scale)
		if err != nil {
			return QuantizedModel{}, fmt.Errorf("weight %d: %w", i, err)
		}
		q.Weights[i] = v
	}
	v, err := quantize(m.Intercept, 2*m.Scale)
	if err != nil {
		return QuantizedModel{}, fmt.Errorf("intercept: %w", err)
	}
	q.Intercept = v
	return q, nil
}

// QuantizeInputs converts feature values to fixed point: round(x·2^scale).
func QuantizeInputs(x []float64, scale uint) ([]int64, error) {
	if err := checkScale(scale); err != nil {
		return nil, err
	}
	out := make([]int64, len(x))
	for i, v := range x {
		q, err := quantize(v, scale)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		out[i] = q
	}
	return out, nil
}

// Score returns the exact integer score Σ Weights[i]·x[i] + Intercept. It
// fails only if the score does not fit an int64 (such a score lies in no
// bucket).
func (q QuantizedModel) Score(x []int64) (int64, error) {
	if len(x) != len(q.Weights) {
		return 0, fmt.Errorf("%w: %d inputs for %d weights", ErrDimension, len(x), len(q.Weights))
	}
	s, ok := exactScore(q.Weights, q.Intercept, x).int64()
	if !ok {
		return 0, fmt.Errorf("%w: score does not fit 64 bits", ErrQuantize)
	}
	return s, nil
}

// int192 is a two's-complement 192-bit integer, wide enough for any score
// (|w_i·x_i| < 2^126 and at most 4096 terms).
type int192 [3]uint64

// exactScore computes the score without branching on the (secret) weights.
func exactScore(w []int64, intercept int64, x []int64) int192 {
	acc := int192{uint64(intercept), uint64(intercept >> 63), uint64(intercept >> 63)}
	for i := range w {
		hi, lo := bits.Mul64(uint64(w[i]), uint64(x[i]))
		hi -= uint64(w[i]>>63) & uint64(x[i])
		hi -= uint64(x[i]>>63) & uint64(w[i])
		top := uint64(int64(hi) >> 63)
		var c uint64
		acc[0], c = bits.Add64(acc[0], lo, 0)
		acc[1], c = bits.Add64(acc[1], hi, c)
		acc[2], _ = bits.Add64(acc[2], top, c)
	}
	return acc
}

func (v int192) int64() (int64, bool) {
	sign := uint64(int64(v[0]) >> 63)
	return int64(v[0]), v[1] == sign && v[2] == sign
}

// Bucket is the half-open interval [Lo, Hi) of integer scores. Use
// math.MinInt64 / math.MaxInt64 for open-ended buckets (the score MaxInt64
// itself is then in no bucket).
type Bucket struct {
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
}

// Contains reports whether Lo ≤ score < Hi.
func (b Bucket) Contains(score int64) bool { return b.Lo <= score && score < b.Hi }

// Check rejects empty buckets. Every non-empty int64 bucket is narrower
// than 2^64, which is what lets two 64-bit range proofs bound the score.
func (b Bucket) Check() error {
	if b.Lo >= b.Hi {
		return fmt.Errorf("%w: [%d, %d) is empty", ErrBucket, b.Lo, b.Hi)
	}
	return nil
}

// BucketsFromEdges turns strictly increasing edges e_1 < … < e_k into the
// k+1 buckets [MinInt64, e_1), [e_1, e_2), …, [e_k, MaxInt64).
func BucketsFromEdges(edges []int64) ([]Bucket, error) {
	out := make([]Bucket, 0, len(edges)+1)
	lo := int64(math.MinInt64)
	for i, e := range edges {
		if e <= lo || e == math.MaxInt64 {
			return nil, fmt.Errorf("%w: edge %d (%d) leaves an empty bucket", ErrBucket, i, e)
		}
		out = append(out, Bucket{Lo: lo, Hi: e})
		lo = e
	}
	return append(out, Bucket{Lo: lo, Hi: math.MaxInt64}), nil
}

// FindBucket returns the index of the bucket containing score.
func FindBucket(buckets []Bucket, score int64) (int, bool) {
	for i, b := range buckets {
		if b.Contains(score) {
			return i, true
		}
	}
	return -1, false
}

// Logit is ln(p / (1 − p)): the score threshold at which a logistic model's
// risk crosses p. The proofs never evaluate a sigmoid; risk bands are
// score bands.
func Logit(p float64) float64 { return math.Log(p / (1 - p)) }

// EdgeFromLogit returns the integer bucket edge for a logit threshold L at
// input/weight scale 2^scale: the smallest integer score s with
// s ≥ L·2^(2·scale), i.e. ceil(L·2^(2·scale)). A score is at or above
// the threshold exactly when it is at or above the edge.
func EdgeFromLogit(logit float64, scale uint) (int64, error) {
	if err := checkScale(scale); err != nil {
		return 0, err
	}
	if math.IsNaN(logit) || math.IsInf(logit, 0) {
		return 0, fmt.Errorf("%w: logit %v is not finite", ErrQuantize, logit)
	}
	e := math.Ceil(math.Ldexp(logit, int(2*scale)))
	if e <= -(1<<63) || e >= 1<<63 {
		return 0, fmt.Errorf("%w: logit %v does not fit 64 bits at scale 2^%d", ErrQuantize, logit, 2*scale)
	}
	return int64(e), nil
}

// EdgesFromProbabilities maps increasing risk thresholds (e.g. 0.10,
// 0.20) to integer score edges via their logits. Compute edges once and
// publish the integers: only the integers are part of any proof.
func EdgesFromProbabilities(ps []float64, scale uint) ([]int64, error) {
	edges := make([]int64, len(ps))
	for i, p := range ps {
		if !(p > 0 && p < 1) {
			return nil, fmt.Errorf("%w: probability %v not in (0, 1)", ErrBucket, p)
		}
		e, err := EdgeFromLogit(Logit(p), scale)
		if err != nil {
			return nil, err
		}
		if i > 0 && e <= edges[i-1] {
			return nil, fmt.Errorf("%w: threshold %v does not increase the edge", ErrBucket, p)
		}
		edges[i] = e
	}
	return edges, nil
}

// Commitment is a hiding Pedersen vector commitment to a quantised model,
//
//	C = Intercept·G_0 + Σ Weights[i]·G_i + r·H,
//
// in its 32-byte ristretto255 encoding. Its text form is lowercase hex.
type Commitment [32]byte

func (c Commitment) String() string { return hex.EncodeToString(c[:]) }

func (c Commitment) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText accepts 64 hex digits encoding a canonical, non-identity
// group element.
func (c *Commitment) UnmarshalText(text []byte) error {
	var buf [pointLen]byte
	if hex.DecodedLen(len(text)) != pointLen {
		return fmt.Errorf("%w: commitment must be %d hex digits", ErrEncoding, 2*pointLen)
	}
	if _, err := hex.Decode(buf[:], text); err != nil {
		return fmt.Errorf("%w: commitment: %v", ErrEncoding, err)
	}
	if _, err := decodeElement(buf[:]); err != nil {
		return fmt.Errorf("%w: commitment: %v", ErrEncoding, err)
	}
	*c = buf
	return nil
}

// Blinding is the commitment's secret randomness r, a canonical scalar.
// Its text form is lowercase hex.
type Blinding [32]byte

func (b Blinding) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b[:])), nil }

func (b *Blinding) UnmarshalText(text []byte) error {
	var buf [scalarLen]byte
	if hex.DecodedLen(len(text)) != scalarLen {
		return fmt.Errorf("%w: blinding must be %d hex digits", ErrEncoding, 2*scalarLen)
	}
	if _, err := hex.Decode(buf[:], text); err != nil {
		return fmt.Errorf("%w: blinding: %v", ErrEncoding, err)
	}
	if _, err := decodeScalar(buf[:]); err != nil {
		return fmt.Errorf("%w: blinding: %v", ErrEncoding, err)
	}
	*b = buf
	return nil
}

// Opening is what the model owner keeps secret: the quantised model and
// the blinding. Whoever holds it can prove predictions (and learns w).
type Opening struct {
	QuantizedModel
	Blinding Blinding `json:"blinding"`
}

// Commit quantises the model and commits to it with fresh randomness.
func Commit(model Model, rand io.Reader) (Commitment, Opening, error) {
	q, err := model.Quantize()
	if err != nil {
		return Commitment{}, Opening{}, err
	}
	return CommitQuantized(q, rand)
}

// CommitQuantized commits to an already quantised model, e.g. one a
// compute job produced in fixed point.
func CommitQuantized(q QuantizedModel, rand io.Reader) (Commitment, Opening, error) {
	if err := checkScale(q.Scale); err != nil {
		return Commitment{}, Opening{}, err
	}
	params, err := NewParams(len(q.Weights))
	if err != nil {
		return Commitment{}, Opening{}, err
	}
	r, err := randomScalar(rand)
	if err != nil {
		return Commitment{}, Opening{}, err
	}
	o := Opening{
		QuantizedModel: QuantizedModel{
			Weights:   append([]int64(nil), q.Weights...),
			Intercept: q.Intercept,
			Scale:     q.Scale,
		},
		Blinding: scalarBytes(&r),
	}
	c := commitPoint(params, o.weightVector(), &r)
	if isIdentity(&c) {
		return Commitment{}, Opening{}, fmt.Errorf("zk: commitment is the identity (broken randomness?)")
	}
	return Commitment(newElement(&c).enc), o, nil
}

// Matches reports whether the opening opens c.
func (o *Opening) Matches(c Commitment) error {
	params, err := NewParams(len(o.Weights))
	if err != nil {
		return err
	}
	r, err := decodeScalar(o.Blinding[:])
	if err != nil {
		return fmt.Errorf("%w: blinding: %v", ErrEncoding, err)
	}
	p := commitPoint(params, o.weightVector(), &r)
	if newElement(&p).enc != c {
		return ErrOpeningMismatch
	}
	return nil
}

// weightVector is (Intercept, Weights...) as scalars: the committed vector.
func (o *Opening) weightVector() []scalar {
	w := make([]scalar, len(o.Weights)+1)
	w[0] = scalarFromInt64(o.Intercept)
	for i, v := range o.Weights {
		w[i+1] = scalarFromInt64(v)
	}
	return w
}

// commitPoint is Σ w_i·G_i + r·H, in constant time.
func commitPoint(params *Params, w []scalar, r *scalar) ed.ExtendedPoint {
	c := ctMSM(params.G[:len(w)], w)
	rh := ctFixedBase(store.tabH, r)
	addExtended(&c, &rh)
	return c
}

// ctFixedBase is s·P for P = B or H, via go-ristretto's constant-time
// precomputed table.
func ctFixedBase(tab *ed.ScalarMultTable, s *scalar) ed.ExtendedPoint {
	var p ed.ExtendedPoint
	b := scalarBytes(s)
	tab.ScalarMult(&p, &b)
	return p
}

// inputVector is (1, x_1, …, x_d, 0, …) of length n: the public
// coefficients of the score as a linear function of the committed vector.
func inputVector(x []int64, n int) []scalar {
	v := make([]scalar, n)
	v[0] = scalarOne()
	for i, xi := range x {
		v[i+1] = scalarFromInt64(xi)
	}
	return v
}
