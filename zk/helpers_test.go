package zk

import (
	"crypto/sha512"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// addNiels sets p = p + n.
func addNiels(p *ed.ExtendedPoint, n *ed.NielsPoint) {
	var c ed.CompletedPoint
	c.AddExtendedNiels(p, n)
	p.SetCompleted(&c)
}

func subExtended(p, q *ed.ExtendedPoint) {
	var c ed.CompletedPoint
	c.SubExtended(p, q)
	p.SetCompleted(&c)
}

// seededReader is the deterministic randomness of the test vectors:
// block i is SHA-512("medchain/zk/test-rng" ‖ seed ‖ uint64be(i)), and the
// stream is the concatenation of the blocks. Tests only; never for proofs
// that leave a test.
type seededReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newSeededReader(seed string) *seededReader { return &seededReader{seed: []byte(seed)} }

func (r *seededReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha512.New()
			h.Write([]byte("medchain/zk/test-rng"))
			h.Write(r.seed)
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], r.ctr)
			h.Write(c[:])
			r.ctr++
			r.buf = h.Sum(nil)
		}
		k := copy(p[n:], r.buf)
		r.buf = r.buf[k:]
		n += k
	}
	return n, nil
}

var _ io.Reader = (*seededReader)(nil)

// randomQuantizedModel returns a model with weights of moderate size
// (like a fitted logistic model at scale 2^16) and inputs of either sign.
func randomQuantizedModel(rng *rand.Rand, d int) (QuantizedModel, []int64) {
	q := QuantizedModel{Weights: make([]int64, d), Scale: DefaultScale}
	x := make([]int64, d)
	for i := range q.Weights {
		q.Weights[i] = rng.Int64N(1<<20) - 1<<19
		x[i] = rng.Int64N(1<<24) - 1<<23
	}
	q.Intercept = rng.Int64N(1<<36) - 1<<35
	return q, x
}

func mustParams(t testing.TB, d int) *Params {
	t.Helper()
	p, err := NewParams(d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCommit(t testing.TB, q QuantizedModel, rand io.Reader) (Commitment, Opening) {
	t.Helper()
	c, o, err := CommitQuantized(q, rand)
	if err != nil {
		t.Fatal(err)
	}
	return c, o
}

func mustScore(t testing.TB, q QuantizedModel, x []int64) int64 {
	t.Helper()
	s, err := q.Score(x)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustProve(t testing.TB, p *Params, o Opening, c Commitment, x []int64, b Bucket, ctx []byte, rand io.Reader) *Proof {
	t.Helper()
	pf, err := Prove(p, o, c, x, b, ctx, rand)
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func mustMarshal(t testing.TB, p *Proof) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
