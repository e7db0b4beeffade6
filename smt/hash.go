package smt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest. The same type is used for node hashes, key paths
// and value hashes, since all three are plain 32-byte digests.
type Hash [32]byte

// Empty (all zeros) stands for an empty subtree. It is a constant rather than
// the hash of some "empty" encoding so that empty subtrees cost neither
// hashing nor storage; finding a SHA-256 preimage of zero is infeasible, so
// it cannot be confused with a real node.
var Empty Hash

// Node encodings. The leading byte separates leaves from internal nodes so
// that no leaf can ever be passed off as an internal node or vice versa
// (second-preimage protection); both kinds are exactly 65 bytes.
const (
	leafTag     = 0x00
	internalTag = 0x01
	nodeSize    = 1 + 2*len(Hash{})

	// maxDepth is the number of bits in a path. Internal nodes live at
	// depths 0..255 (a node at depth d branches on bit d); a leaf can sit at
	// depth 256 at the deepest, when two paths differ only in their last bit.
	maxDepth = 8 * len(Hash{})
)

// KeyPath is the position of key in the tree: sha256(key). Hashing the key
// spreads keys evenly, which keeps the tree about log2(n) deep whatever keys
// the ledger chooses.
func KeyPath(key []byte) Hash { return sha256.Sum256(key) }

// ValueHash is the digest a leaf commits to: sha256(value). Leaves commit to
// the hash rather than the value so nodes stay fixed-size and proofs do not
// carry values.
func ValueHash(value []byte) Hash { return sha256.Sum256(value) }

// LeafHash is the hash of the leaf node for path with value hash valueHash:
// sha256(0x00 || path || valueHash).
func LeafHash(path, valueHash Hash) Hash {
	enc := encodeNode(leafTag, path, valueHash)
	return sha256.Sum256(enc[:])
}

// internalHash is the hash of an internal node: sha256(0x01 || left || right).
func internalHash(left, right Hash) Hash {
	enc := encodeNode(internalTag, left, right)
	return sha256.Sum256(enc[:])
}

func encodeNode(tag byte, a, b Hash) [nodeSize]byte {
	var enc [nodeSize]byte
	enc[0] = tag
	copy(enc[1:33], a[:])
	copy(enc[33:], b[:])
	return enc
}

// bitAt returns bit i of b, counting from the most significant bit of b[0].
// Paths and proof bitmaps use the same numbering.
func bitAt(b []byte, i int) byte {
	return (b[i/8] >> (7 - uint(i%8))) & 1
}

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as 64 lowercase hex digits (used by JSON).
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText decodes exactly 64 hex digits (either case).
func (h *Hash) UnmarshalText(text []byte) error {
	if len(text) != hex.EncodedLen(len(h)) {
		return fmt.Errorf("smt: hash must be %d hex digits, got %d characters", hex.EncodedLen(len(h)), len(text))
	}
	var tmp Hash
	if _, err := hex.Decode(tmp[:], text); err != nil {
		return fmt.Errorf("smt: hash: %w", err)
	}
	*h = tmp
	return nil
}
