// Package smt is an authenticated key-value commitment: a compact binary
// sparse Merkle tree over SHA-256 whose root is the ledger's state root.
//
// A key sits at path sha256(key); bit i of the path (most significant bit of
// byte 0 first) chooses the left (0) or right (1) child at depth i. The tree
// is kept in canonical compact form: a subtree that holds a single leaf is
// represented by that leaf's hash, at the shallowest depth where the leaf is
// alone, and every internal node has at least two leaves beneath it. Since a
// leaf hash commits to the leaf's full path, it means the same thing at any
// depth, and the root is a function of the set of (key, value) pairs only,
// never of the order in which they were inserted or deleted.
//
// Nodes are content-addressed (stored under prefix || hash) and never
// deleted, so every root ever returned stays readable and provable.
package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/medchain/medchain/store"
)

var (
	// ErrMissingNode means a node reachable from the given root is not in the
	// store: the root is unknown or the store is corrupt.
	ErrMissingNode = errors.New("smt: missing node")
	// ErrCorruptNode means a stored node does not decode, or does not hash
	// to the key it is stored under.
	ErrCorruptNode = errors.New("smt: corrupt node")
)

// Tree reads and writes tree nodes in a key-value store. It holds no state of
// its own beyond the store, so roots are passed explicitly, any number of
// versions can be read side by side, and a Tree is as safe for concurrent use
// as its store is.
type Tree struct {
	rw     store.ReadWriter
	prefix []byte
}

// New returns a Tree keeping its nodes in rw under keys prefix || hash.
func New(rw store.ReadWriter, prefix []byte) *Tree {
	return &Tree{rw: rw, prefix: bytes.Clone(prefix)}
}

// kind classifies a subtree; Update tracks it so that collapsing a subtree
// that is down to one leaf rarely needs to read the node back.
type kind uint8

const (
	kindUnknown kind = iota // not yet looked at
	kindEmpty
	kindLeaf
	kindInternal
)

// node is a decoded stored node. For a leaf a, b are the path and value
// hash; for an internal node they are the left and right child hashes.
type node struct {
	kind kind
	a, b Hash
}

func (t *Tree) nodeKey(h Hash) []byte {
	k := make([]byte, 0, len(t.prefix)+len(h))
	k = append(k, t.prefix...)
	return append(k, h[:]...)
}

// load reads and checks the node stored under h (which must not be Empty).
// The content is re-hashed: a store that returns the wrong bytes is reported
// as corruption instead of silently producing wrong roots or proofs.
func (t *Tree) load(h Hash) (node, error) {
	enc, err := t.rw.Get(t.nodeKey(h))
	if err != nil {
		return node{}, fmt.Errorf("smt: read node %s: %w", h, err)
	}
	if enc == nil {
		return node{}, fmt.Errorf("%w: %s", ErrMissingNode, h)
	}
	if len(enc) != nodeSize || (enc[0] != leafTag && enc[0] != internalTag) {
		return node{}, fmt.Errorf("%w: %s: bad encoding (%d bytes)", ErrCorruptNode, h, len(enc))
	}
	if sha256.Sum256(enc) != h {
		return node{}, fmt.Errorf("%w: %s: content does not match hash", ErrCorruptNode, h)
	}
	n := node{kind: kindInternal}
	if enc[0] == leafTag {
		n.kind = kindLeaf
	}
	copy(n.a[:], enc[1:33])
	copy(n.b[:], enc[33:])
	return n, nil
}

// put stores a node and returns its hash. The key and value slices are fresh
// because store.Writer implementations take ownership of them.
func (t *Tree) put(tag byte, a, b Hash) (Hash, error) {
	enc := encodeNode(tag, a, b)
	h := sha256.Sum256(enc[:])
	if err := t.rw.Set(t.nodeKey(h), enc[:]); err != nil {
		return Empty, fmt.Errorf("smt: write node %s: %w", h, err)
	}
	return h, nil
}

// op is one change, resolved to its path. Keys are never needed again.
type op struct {
	path      Hash
	valueHash Hash
	seq       int // position in the caller's batch
	delete    bool
	// stored marks an existing leaf merged into the batch because new leaves
	// land in its subtree; its node is already in the store.
	stored bool
}

func cmpPath(a, b Hash) int { return bytes.Compare(a[:], b[:]) }

// Update applies changes (Value == nil deletes Key) to the tree with root
// root and returns the new root. Changes may be in any order; if a key
// appears more than once the last change wins; deleting an absent key does
// nothing. Only the new nodes are written (with Set); nothing is deleted, so
// root and every older root remain readable.
//
// The changes are sorted by path and applied in one recursive descent, which
// splits the batch at each internal node and touches only the nodes on the
// changed paths: O(k log n) hashing and reads for k changes in n keys.
//
// If it fails (a store error, or ErrMissingNode / ErrCorruptNode for a
// damaged tree), nodes written so far are unreachable from any root and
// harmless.
func (t *Tree) Update(root Hash, changes []store.Change) (Hash, error) {
	if len(changes) == 0 {
		return root, nil
	}
	ops := make([]op, len(changes))
	for i, c := range changes {
		ops[i].path = KeyPath(c.Key)
		ops[i].seq = i
		if c.Value == nil {
			ops[i].delete = true
		} else {
			ops[i].valueHash = ValueHash(c.Value)
		}
	}
	// Ties are broken by input position, so duplicates stay in input order
	// and keeping the last of each run of equal paths implements "last one
	// wins". (This is faster than slices.SortStableFunc on big batches.)
	slices.SortFunc(ops, func(x, y op) int {
		if c := cmpPath(x.path, y.path); c != 0 {
			return c
		}
		return x.seq - y.seq
	})
	uniq := ops[:0]
	for i := range ops {
		if i+1 < len(ops) && ops[i+1].path == ops[i].path {
			continue
		}
		uniq = append(uniq, ops[i])
	}
	h, _, err := t.update(root, 0, uniq)
	return h, err
}

// splitAt returns the index of the first op whose path has bit depth set.
// ops are sorted and share their first depth bits, so that bit is monotone.
func splitAt(ops []op, depth int) int {
	return sort.Search(len(ops), func(i int) bool { return bitAt(ops[i].path[:], depth) == 1 })
}

// update applies ops (non-empty, sorted, unique paths, all inside the
// subtree) to the subtree at depth whose hash is h, returning the new
// subtree hash and its kind.
func (t *Tree) update(h Hash, depth int, ops []op) (Hash, kind, error) {
	if h == Empty {
		return t.build(depth, inserts(ops, nil))
	}
	n, err := t.load(h)
	if err != nil {
		return Empty, kindUnknown, err
	}
	if n.kind == kindLeaf {
		// The subtree holds one leaf. If a change targets the leaf's own
		// path it replaces or deletes it; otherwise the leaf joins the new
		// leaves and the subtree is rebuilt from that set, which pushes the
		// leaf down exactly as far as needed to separate it from them.
		_, found := slices.BinarySearchFunc(ops, n.a, func(o op, p Hash) int { return cmpPath(o.path, p) })
		if found {
			return t.build(depth, inserts(ops, nil))
		}
		existing := &op{path: n.a, valueHash: n.b, stored: true}
		leaves := inserts(ops, existing)
		if len(leaves) == 1 { // only deletes of absent keys
			return h, kindLeaf, nil
		}
		return t.build(depth, leaves)
	}
	if depth >= maxDepth {
		return Empty, kindUnknown, fmt.Errorf("%w: %s: internal node below depth %d", ErrCorruptNode, h, maxDepth)
	}
	s := splitAt(ops, depth)
	left, lk := n.a, kindUnknown
	right, rk := n.b, kindUnknown
	if s > 0 {
		if left, lk, err = t.update(n.a, depth+1, ops[:s]); err != nil {
			return Empty, kindUnknown, err
		}
	}
	if s < len(ops) {
		if right, rk, err = t.update(n.b, depth+1, ops[s:]); err != nil {
			return Empty, kindUnknown, err
		}
	}
	if left == n.a && right == n.b {
		return h, kindInternal, nil // e.g. only deletes of absent keys
	}
	return t.join(left, lk, right, rk)
}

// join makes the canonical subtree with the given children. If one child is
// empty and the other is a single leaf, the pair holds one leaf, so the leaf
// itself moves up in place of the internal node; this is what makes deletes
// collapse. A child's kind may be unknown if it was not changed; then it is
// read back from the store.
func (t *Tree) join(left Hash, lk kind, right Hash, rk kind) (Hash, kind, error) {
	switch {
	case left == Empty && right == Empty:
		return Empty, kindEmpty, nil
	case left == Empty:
		if isLeaf, err := t.isLeaf(right, rk); err != nil || isLeaf {
			return right, kindLeaf, err
		}
	case right == Empty:
		if isLeaf, err := t.isLeaf(left, lk); err != nil || isLeaf {
			return left, kindLeaf, err
		}
	}
	h, err := t.put(internalTag, left, right)
	return h, kindInternal, err
}

func (t *Tree) isLeaf(h Hash, k kind) (bool, error) {
	if k != kindUnknown {
		return k == kindLeaf, nil
	}
	n, err := t.load(h)
	return n.kind == kindLeaf, err
}

// inserts returns the non-delete ops, with extra (if not nil) merged in at
// its sorted position. The result is a fresh slice.
func inserts(ops []op, extra *op) []op {
	out := make([]op, 0, len(ops)+1)
	for _, o := range ops {
		if extra != nil && cmpPath(extra.path, o.path) < 0 {
			out = append(out, *extra)
			extra = nil
		}
		if !o.delete {
			out = append(out, o)
		}
	}
	if extra != nil {
		out = append(out, *extra)
	}
	return out
}

// build writes the canonical subtree at depth holding exactly leaves (sorted,
// unique paths, sharing their first depth bits) and returns its hash.
func (t *Tree) build(depth int, leaves []op) (Hash, kind, error) {
	switch len(leaves) {
	case 0:
		return Empty, kindEmpty, nil
	case 1:
		l := leaves[0]
		if l.stored {
			return LeafHash(l.path, l.valueHash), kindLeaf, nil
		}
		h, err := t.put(leafTag, l.path, l.valueHash)
		return h, kindLeaf, err
	}
	if depth >= maxDepth { // unreachable: distinct paths differ in some bit
		return Empty, kindUnknown, fmt.Errorf("smt: build: %d leaves share a full path", len(leaves))
	}
	// Two or more leaves always make an internal node, even when they all go
	// to one side: the other child is then Empty.
	s := splitAt(leaves, depth)
	left, _, err := t.build(depth+1, leaves[:s])
	if err != nil {
		return Empty, kindUnknown, err
	}
	right, _, err := t.build(depth+1, leaves[s:])
	if err != nil {
		return Empty, kindUnknown, err
	}
	h, err := t.put(internalTag, left, right)
	return h, kindInternal, err
}
