package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The content root of a version is the RFC 6962 Merkle tree hash over the
// SHA-256 hashes of its sealed chunks, in canonical order: the pseudonym
// column's chunks, then each schema column's in schema order, each column's
// chunks by index. Leaf i is the 32-byte ciphertext hash (which is also the
// chunk's blob address); RFC 6962's 0x00/0x01 prefixes keep leaves and
// inner nodes apart. The root is what the ledger publishes as
// content_root, so anyone holding a chunk's bytes and an inclusion proof
// can check that the chunk belongs to a published version without seeing
// any other chunk.

var hasher = rfc6962.DefaultHasher

// tree is a Merkle tree with every node hash kept, for proofs. Versions
// have thousands of chunks at most, so keeping them all is cheap.
type tree struct {
	size  uint64
	nodes map[compact.NodeID][]byte
	root  []byte
}

func buildTree(leaves [][]byte) (*tree, error) {
	t := &tree{size: uint64(len(leaves)), nodes: make(map[compact.NodeID][]byte)}
	f := compact.RangeFactory{Hash: hasher.HashChildren}
	r := f.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) { t.nodes[id] = bytes.Clone(h) }
	for i, l := range leaves {
		h := hasher.HashLeaf(l)
		t.nodes[compact.NewNodeID(0, uint64(i))] = h
		if err := r.Append(h, visit); err != nil {
			return nil, err
		}
	}
	if t.size == 0 {
		t.root = hasher.EmptyRoot()
		return t, nil
	}
	root, err := r.GetRootHash(visit)
	if err != nil {
		return nil, err
	}
	t.root = bytes.Clone(root)
	return t, nil
}

func (t *tree) prove(index uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, t.size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, ok := t.nodes[id]
		if !ok {
			return nil, fmt.Errorf("merkle node %d/%d missing", id.Level, id.Index)
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// Proof shows that one sealed chunk is leaf Index of the Size-leaf tree
// whose root is a version's content root. Column and Chunk say which chunk
// that position is (the pseudonym column first, then schema order).
type Proof struct {
	Column string   `json:"column"`
	Chunk  int      `json:"chunk"`
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"` // from the leaf's sibling upwards
}

// ErrInvalidProof is wrapped by every failed VerifyChunk.
var ErrInvalidProof = errors.New("invalid inclusion proof")

// VerifyChunk checks that sealed (a chunk's stored bytes) is the chunk p
// names in the version whose content root (hex, as on the ledger) is
// contentRoot. It needs neither the vault nor any key.
func VerifyChunk(contentRoot string, sealed []byte, p *Proof) error {
	root, err := hex.DecodeString(contentRoot)
	if err != nil || len(root) != sha256.Size {
		return fmt.Errorf("%w: content root %q is not 64 hex digits", ErrInvalidProof, contentRoot)
	}
	leaf := sha256.Sum256(sealed)
	if err := proof.VerifyInclusion(hasher, p.Index, p.Size, hasher.HashLeaf(leaf[:]), p.Hashes, root); err != nil {
		return fmt.Errorf("%w: column %s chunk %d (leaf %d of %d): %v", ErrInvalidProof, p.Column, p.Chunk, p.Index, p.Size, err)
	}
	return nil
}
