package device

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// An anchor commits to the readings a node accepted in one interval: the
// RFC 6962 Merkle tree whose leaf hashes are the readings' LeafHash, in
// the order they were stored. Its root goes on the ledger; a reading's
// inclusion proof against it shows the reading was accepted then.

var hasher = rfc6962.DefaultHasher

// Tree is an anchor's tree, every node kept for proofs (an interval holds
// thousands of readings, not millions).
type Tree struct {
	size  uint64
	nodes map[compact.NodeID][]byte
	root  [32]byte
}

// NewTree builds the tree over the leaf hashes, in order. An anchor has at
// least one reading.
func NewTree(leaves [][32]byte) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, errors.New("device: an anchor covers at least one reading")
	}
	t := &Tree{size: uint64(len(leaves)), nodes: make(map[compact.NodeID][]byte, 2*len(leaves))}
	f := compact.RangeFactory{Hash: hasher.HashChildren}
	r := f.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) { t.nodes[id] = h }
	for i := range leaves {
		h := leaves[i][:]
		t.nodes[compact.NewNodeID(0, uint64(i))] = h
		if err := r.Append(h, visit); err != nil {
			return nil, err
		}
	}
	root, err := r.GetRootHash(visit)
	if err != nil {
		return nil, err
	}
	copy(t.root[:], root)
	return t, nil
}

// Root is the tree's root.
func (t *Tree) Root() [32]byte { return t.root }

// Size is its number of leaves.
func (t *Tree) Size() uint64 { return t.size }

// Proof shows that a reading is leaf Index of the Size-leaf anchor tree.
type Proof struct {
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"` // from the leaf's sibling upwards
}

// Prove is the inclusion proof of leaf i.
func (t *Tree) Prove(i uint64) (*Proof, error) {
	nodes, err := proof.Inclusion(i, t.size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for k, id := range nodes.IDs {
		h, ok := t.nodes[id]
		if !ok {
			return nil, fmt.Errorf("device: merkle node %d/%d missing", id.Level, id.Index)
		}
		hashes[k] = h
	}
	hs, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	return &Proof{Index: i, Size: t.size, Hashes: hs}, nil
}

// ErrNotIncluded is wrapped by every failed VerifyInclusion.
var ErrNotIncluded = errors.New("reading is not in the anchor")

// VerifyInclusion checks that the signed reading is leaf p.Index of the
// anchor whose root is root. It needs no key and no store: the reading,
// the proof and the root (from the ledger) suffice.
func VerifyInclusion(s *Signed, p *Proof, root [32]byte) error {
	leaf := s.LeafHash()
	if err := proof.VerifyInclusion(hasher, p.Index, p.Size, leaf[:], p.Hashes, root[:]); err != nil {
		return fmt.Errorf("%w: leaf %d of %d: %v", ErrNotIncluded, p.Index, p.Size, err)
	}
	return nil
}
