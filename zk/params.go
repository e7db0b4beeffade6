package zk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
	"github.com/cloudflare/circl/group"
)

const (
	// GeneratorDST is the RFC 9380 domain separation tag of every generator.
	GeneratorDST = "medchain/zk/v1/generators"

	// RangeBits is the bit length n of each range proof: the proof shows
	// score − lo and hi − 1 − score are both in [0, 2^RangeBits).
	RangeBits = 64

	// MaxFeatures bounds the model dimension d; the commitment vector has
	// d+1 entries (the intercept is entry 0).
	MaxFeatures = 4095

	rangeValues = 2                       // m: the two bounds, aggregated
	rangeLen    = RangeBits * rangeValues // nm = 128
	rangeRounds = 5                       // log2(rangeLen / ipaFinal)
)

// fixedGen is a generator with the tables the multi-scalar multiplications
// use: odd multiples up to 127P for variable-time w-NAF, and 1P..8P for
// the constant-time radix-16 scan.
type fixedGen struct {
	p     ed.ExtendedPoint
	enc   [pointLen]byte
	vt    [1 << (fixedWidth - 2)]ed.NielsPoint // P, 3P, …, 127P
	vtNeg [1 << (fixedWidth - 2)]ed.NielsPoint // −P, −3P, …, −127P
	ct    [8]ed.NielsPoint                     // P, 2P, …, 8P
}

// hashToGenerator is hash_to_ristretto255 (RFC 9380, suite
// ristretto255_XMD:SHA-512_R255MAP_RO_) of label ‖ 0x00 ‖ uint32be(index).
func hashToGenerator(label string, index uint32) ed.ExtendedPoint {
	msg := make([]byte, 0, len(label)+5)
	msg = append(msg, label...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, index)
	e := group.Ristretto255.HashToElement(msg, []byte(GeneratorDST))
	enc, err := e.MarshalBinary()
	if err != nil {
		panic("zk: hash_to_ristretto255: " + err.Error())
	}
	var buf [pointLen]byte
	copy(buf[:], enc)
	var p ed.ExtendedPoint
	if buf == zeroEncoding || !p.SetRistretto(&buf) {
		// Probability 2^-252; a panic here means a broken hash-to-group.
		panic("zk: hash_to_ristretto255 returned an unusable point")
	}
	return p
}

// buildGens derives the named generators and their tables, sharing one
// field inversion across all of them.
func buildGens(label string, from, to int) []*fixedGen {
	const nvt = 1 << (fixedWidth - 2)
	const per = nvt + 4 // odd multiples, then 2P, 4P, 6P, 8P
	gens := make([]*fixedGen, to-from)
	ext := make([]ed.ExtendedPoint, per*len(gens))
	for i := range gens {
		g := &fixedGen{p: hashToGenerator(label, uint32(from+i))}
		g.p.RistrettoInto(&g.enc)
		gens[i] = g
		row := ext[i*per : (i+1)*per]
		var twice ed.ExtendedPoint
		twice.Double(&g.p)
		row[0] = g.p
		for j := 1; j < nvt; j++ {
			row[j] = row[j-1]
			addExtended(&row[j], &twice)
		}
		row[nvt] = twice               // 2P
		row[nvt+1].Double(&twice)      // 4P
		row[nvt+2].Double(&row[1])     // 6P = 2·3P
		row[nvt+3].Double(&row[nvt+1]) // 8P
	}
	niels := make([]ed.NielsPoint, len(ext))
	toNiels(niels, ext)
	for i, g := range gens {
		row := niels[i*per : (i+1)*per]
		copy(g.vt[:], row[:nvt])
		for j := range g.vt {
			negNiels(&g.vtNeg[j], &g.vt[j])
		}
		g.ct = [8]ed.NielsPoint{row[0], row[nvt], row[1], row[nvt+1], row[2], row[nvt+2], row[3], row[nvt+3]}
	}
	return gens
}

// store holds every generator ever derived. Generators depend only on
// their label and index, so models of different dimensions share G_0, G_1, …
// and one batch can mix them. Entries are immutable once created.
var store struct {
	once       sync.Once
	B, H, U    *fixedGen
	g, h       []*fixedGen
	gh         []*fixedGen         // g followed by h
	tabB, tabH *ed.ScalarMultTable // constant-time fixed-base tables
	mu         sync.Mutex
	G          []*fixedGen
	params     map[int]*Params
}

func initStore() {
	store.once.Do(func() {
		store.B = buildGens("B", 0, 1)[0]
		store.H = buildGens("H", 0, 1)[0]
		store.U = buildGens("U", 0, 1)[0]
		store.g = buildGens("g", 0, rangeLen)
		store.h = buildGens("h", 0, rangeLen)
		store.gh = append(append([]*fixedGen(nil), store.g...), store.h...)
		store.tabB = new(ed.ScalarMultTable)
		store.tabB.Compute(&store.B.p)
		store.tabH = new(ed.ScalarMultTable)
		store.tabH.Compute(&store.H.p)
		store.params = make(map[int]*Params)
	})
}

// Params are the public parameters for models with a given number of
// features: the generators and their digest. They are derived, never
// chosen, and safe for concurrent use.
type Params struct {
	d      int // features
	n      int // padded length of the commitment vector, a power of two ≥ d+1
	log    int // log2(n)
	G      []*fixedGen
	digest [32]byte
}

// NewParams returns the parameters for d-feature models (1 ≤ d ≤
// MaxFeatures). Results are cached; the first call for the package derives
// the 259 range-proof generators and their tables (≈35 ms, ≈5 MB; each
// model generator adds 16 KB).
func NewParams(features int) (*Params, error) {
	if features < 1 || features > MaxFeatures {
		return nil, fmt.Errorf("%w: %d features, want 1..%d", ErrDimension, features, MaxFeatures)
	}
	initStore()
	store.mu.Lock()
	defer store.mu.Unlock()
	if p, ok := store.params[features]; ok {
		return p, nil
	}
	n := 1 << bits.Len(uint(features)) // next power of two ≥ features+1
	if have := len(store.G); have < n {
		store.G = append(store.G, buildGens("G", have, n)...)
	}
	p := &Params{d: features, n: n, log: bits.TrailingZeros(uint(n)), G: store.G[:n:n]}
	p.digest = generatorDigest(p)
	store.params[features] = p
	return p, nil
}

// generatorDigest commits to every generator a proof for these parameters
// uses, in the order of the README.
func generatorDigest(p *Params) [32]byte {
	h := sha256.New()
	h.Write([]byte(GeneratorDST))
	var dims [16]byte
	binary.BigEndian.PutUint32(dims[0:], uint32(p.d))
	binary.BigEndian.PutUint32(dims[4:], uint32(p.n))
	binary.BigEndian.PutUint32(dims[8:], RangeBits)
	binary.BigEndian.PutUint32(dims[12:], rangeValues)
	h.Write(dims[:])
	for _, g := range []*fixedGen{store.B, store.H, store.U} {
		h.Write(g.enc[:])
	}
	for _, set := range [][]*fixedGen{store.g, store.h, p.G} {
		for _, g := range set {
			h.Write(g.enc[:])
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Features is the model dimension d.
func (p *Params) Features() int { return p.d }

// Digest is SHA-256 over the generator set (see README): two parties with
// the same digest use the same generators.
func (p *Params) Digest() [32]byte { return p.digest }

// ProofSize is the encoded size in bytes of every proof for these
// parameters.
func (p *Params) ProofSize() int { return proofSize(p.log) }
