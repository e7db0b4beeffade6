package smt

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// ErrInvalidProof is wrapped by every error Verify (and UnmarshalBinary)
// returns for a proof that does not prove the claim.
var ErrInvalidProof = errors.New("smt: invalid proof")

// Proof shows that a key has a given value under a root, or that it is
// absent.
//
// It records the walk from the root along the key's path down to the first
// node that is not internal (the terminal), Depth levels down. The terminal is
// either Empty (Leaf == nil) or a leaf (Leaf != nil):
//
//   - membership: Leaf.Path is the key's path and Leaf.ValueHash is
//     sha256(value);
//   - absence: the terminal is Empty, or it is a leaf for a different path
//     (sharing the key's first Depth bits), which occupies the only place the
//     key could be.
//
// Most siblings in a sparse tree are Empty, so only the non-empty ones are
// listed; bit i of Bitmap (most significant bit of byte 0 first, like paths)
// says whether the sibling at depth i is non-empty.
//
// In JSON, hashes and the bitmap are lowercase hex strings.
type Proof struct {
	Depth    int        `json:"depth"`          // levels from the root to the terminal, 0..256
	Bitmap   Bitmap     `json:"bitmap"`         // exactly ceil(Depth/8) bytes; unused low bits zero
	Siblings []Hash     `json:"siblings"`       // the non-empty siblings, root downward
	Leaf     *ProofLeaf `json:"leaf,omitempty"` // the terminal leaf, nil if the terminal is Empty
}

// ProofLeaf is the leaf a proof ends in.
type ProofLeaf struct {
	Path      Hash `json:"path"`
	ValueHash Hash `json:"value_hash"`
}

// Bitmap is a bit set numbered from the most significant bit of byte 0. It is
// its own type only so that it reads as hex in JSON, like the hashes.
type Bitmap []byte

// MarshalText encodes the bitmap as lowercase hex.
func (b Bitmap) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(b)))
	hex.Encode(out, b)
	return out, nil
}

// UnmarshalText decodes hex.
func (b *Bitmap) UnmarshalText(text []byte) error {
	out := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(out, text); err != nil {
		return fmt.Errorf("smt: bitmap: %w", err)
	}
	*b = out
	return nil
}

// Prove returns a membership proof for key under root if the key is present,
// and an absence proof otherwise. Verify tells which claim it supports; for
// a member, Leaf.ValueHash is its value hash.
func (t *Tree) Prove(root Hash, key []byte) (*Proof, error) {
	path := KeyPath(key)
	var bitmap [maxDepth / 8]byte
	p := &Proof{Siblings: []Hash{}}
	h, depth := root, 0
	for h != Empty {
		n, err := t.load(h)
		if err != nil {
			return nil, fmt.Errorf("smt: prove: %w", err)
		}
		if n.kind == kindLeaf {
			p.Leaf = &ProofLeaf{Path: n.a, ValueHash: n.b}
			break
		}
		if depth >= maxDepth {
			return nil, fmt.Errorf("smt: prove: %w: %s: internal node below depth %d", ErrCorruptNode, h, maxDepth)
		}
		child, sibling := n.a, n.b
		if bitAt(path[:], depth) == 1 {
			child, sibling = sibling, child
		}
		if sibling != Empty {
			bitmap[depth/8] |= 0x80 >> (depth % 8)
			p.Siblings = append(p.Siblings, sibling)
		}
		h = child
		depth++
	}
	p.Depth = depth
	p.Bitmap = append(Bitmap{}, bitmap[:(depth+7)/8]...)
	return p, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidProof}, args...)...)
}

// checkShape rejects every proof that is not in the one canonical form Prove
// produces, before any hashing. The root comparison alone would already
// reject forgeries (short of breaking SHA-256); these checks make sure no
// second encoding of a valid proof is accepted either, and give clear errors.
func (p *Proof) checkShape() error {
	if p == nil {
		return invalid("nil proof")
	}
	if p.Depth < 0 || p.Depth > maxDepth {
		return invalid("depth %d outside 0..%d", p.Depth, maxDepth)
	}
	if want := (p.Depth + 7) / 8; len(p.Bitmap) != want {
		return invalid("bitmap has %d bytes, depth %d needs %d", len(p.Bitmap), p.Depth, want)
	}
	if r := p.Depth % 8; r != 0 && p.Bitmap[len(p.Bitmap)-1]&(0xff>>r) != 0 {
		return invalid("bitmap has bits set beyond depth %d", p.Depth)
	}
	set := 0
	for _, b := range p.Bitmap {
		set += bits.OnesCount8(b)
	}
	if set != len(p.Siblings) {
		return invalid("bitmap marks %d non-empty siblings, proof has %d", set, len(p.Siblings))
	}
	for i, s := range p.Siblings {
		if s == Empty {
			return invalid("sibling %d is empty (empty siblings belong in the bitmap)", i)
		}
	}
	// The terminal's parent has the terminal (Empty or one leaf) on one side;
	// if its other side were Empty too it would hold fewer than two leaves,
	// and canonical trees have no such internal node.
	if p.Depth > 0 && bitAt(p.Bitmap, p.Depth-1) == 0 {
		return invalid("sibling at depth %d is empty, so the terminal's parent would not exist", p.Depth-1)
	}
	return nil
}

// Verify checks that the proof shows, under root, that key has value
// (value != nil; an empty non-nil value is a value like any other) or that
// key is absent (value == nil). Any failure wraps ErrInvalidProof.
func (p *Proof) Verify(root Hash, key, value []byte) error {
	if err := p.checkShape(); err != nil {
		return err
	}
	path := KeyPath(key)
	h := Empty
	switch {
	case value != nil && p.Leaf == nil:
		return invalid("proof ends in an empty subtree, so it cannot show membership")
	case value != nil:
		if p.Leaf.Path != path {
			return invalid("proof is for path %s, key has path %s", p.Leaf.Path, path)
		}
		if want := ValueHash(value); p.Leaf.ValueHash != want {
			return invalid("leaf has value hash %s, value has hash %s", p.Leaf.ValueHash, want)
		}
		h = LeafHash(p.Leaf.Path, p.Leaf.ValueHash)
	case p.Leaf != nil:
		// Absence through another leaf: that leaf must sit where the key
		// would, i.e. share the key's first Depth bits, and must not be the
		// key's own leaf (that would turn a membership proof into absence).
		if p.Leaf.Path == path {
			return invalid("absence proof ends in the key's own leaf")
		}
		for i := 0; i < p.Depth; i++ {
			if bitAt(p.Leaf.Path[:], i) != bitAt(path[:], i) {
				return invalid("absence proof leaf %s leaves the key's path at depth %d", p.Leaf.Path, i)
			}
		}
		h = LeafHash(p.Leaf.Path, p.Leaf.ValueHash)
	}
	// Hash up from the terminal, taking siblings from the end of the list.
	next := len(p.Siblings)
	for d := p.Depth - 1; d >= 0; d-- {
		sibling := Empty
		if bitAt(p.Bitmap, d) == 1 {
			next--
			sibling = p.Siblings[next]
		}
		if bitAt(path[:], d) == 0 {
			h = internalHash(h, sibling)
		} else {
			h = internalHash(sibling, h)
		}
	}
	if h != root {
		return invalid("computed root %s, want %s", h, root)
	}
	return nil
}

// binaryHeader is the flags byte and the two depth bytes.
const binaryHeader = 3

// Size is the length in bytes of the proof's binary encoding.
func (p *Proof) Size() int {
	if p == nil {
		return 0
	}
	n := binaryHeader + len(p.Bitmap) + len(Hash{})*len(p.Siblings)
	if p.Leaf != nil {
		n += 2 * len(Hash{})
	}
	return n
}

// MarshalBinary encodes the proof compactly (this is what Size measures):
//
//	flags     1 byte   0: terminal is Empty, 1: terminal is a leaf
//	depth     2 bytes  big-endian, 0..256
//	bitmap    ceil(depth/8) bytes
//	siblings  32 bytes each, as many as bits set in the bitmap
//	leaf      64 bytes (path, value hash), only if flags == 1
//
// It fails for proofs that are not well formed.
func (p *Proof) MarshalBinary() ([]byte, error) {
	if err := p.checkShape(); err != nil {
		return nil, err
	}
	out := make([]byte, binaryHeader, p.Size())
	if p.Leaf != nil {
		out[0] = 1
	}
	binary.BigEndian.PutUint16(out[1:], uint16(p.Depth))
	out = append(out, p.Bitmap...)
	for _, s := range p.Siblings {
		out = append(out, s[:]...)
	}
	if p.Leaf != nil {
		out = append(out, p.Leaf.Path[:]...)
		out = append(out, p.Leaf.ValueHash[:]...)
	}
	return out, nil
}

// UnmarshalBinary decodes the binary form, accepting only well-formed,
// exactly sized input; errors wrap ErrInvalidProof.
func (p *Proof) UnmarshalBinary(data []byte) error {
	if len(data) < binaryHeader {
		return invalid("binary proof is %d bytes, shorter than its header", len(data))
	}
	if data[0] > 1 {
		return invalid("binary proof has unknown flags %#x", data[0])
	}
	depth := int(binary.BigEndian.Uint16(data[1:]))
	if depth > maxDepth {
		return invalid("depth %d outside 0..%d", depth, maxDepth)
	}
	rest := data[binaryHeader:]
	nb := (depth + 7) / 8
	if len(rest) < nb {
		return invalid("binary proof truncated in bitmap")
	}
	q := Proof{Depth: depth, Bitmap: append(Bitmap{}, rest[:nb]...), Siblings: []Hash{}}
	rest = rest[nb:]
	set := 0
	for _, b := range q.Bitmap {
		set += bits.OnesCount8(b)
	}
	want := set * len(Hash{})
	if data[0] == 1 {
		want += 2 * len(Hash{})
	}
	if len(rest) != want {
		return invalid("binary proof has %d bytes after the bitmap, want %d", len(rest), want)
	}
	for range set {
		var s Hash
		copy(s[:], rest)
		q.Siblings = append(q.Siblings, s)
		rest = rest[len(s):]
	}
	if data[0] == 1 {
		q.Leaf = &ProofLeaf{}
		copy(q.Leaf.Path[:], rest)
		copy(q.Leaf.ValueHash[:], rest[len(Hash{}):])
	}
	if err := q.checkShape(); err != nil {
		return err
	}
	*p = q
	return nil
}
