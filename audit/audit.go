// Package audit is the ledger's append-only audit log: an RFC 6962 Merkle
// tree log (the Certificate Transparency construction) kept in a key-value
// store, with inclusion and consistency proofs for any historic tree size.
//
// The tree arithmetic comes from github.com/transparency-dev/merkle: leaf and
// node hashing from rfc6962.DefaultHasher (SHA-256, 0x00 leaf / 0x01 node
// domain separation), incremental roots and node bookkeeping from
// compact.Range, proof shapes from proof.Inclusion / proof.Consistency, and
// verification from proof.VerifyInclusion / proof.VerifyConsistency. This
// package only decides what is stored where.
//
// # Storage layout
//
// Every key starts with the prefix given to Open. After it, one tag byte
// selects the record kind, followed by fixed-width big-endian fields, so no
// two kinds, levels or indexes can produce the same key, and keys of one kind
// sort by index:
//
//	prefix 'm'                          meta: version(1) | size(8) | frontier hashes (32 each)
//	prefix 'e' index(8)                 entry bytes of leaf #index
//	prefix 'n' level(1) index(8)        hash of the complete subtree (level, index);
//	                                    level 0 holds the leaf hashes
//
// The frontier in the meta record is the compact range [0, size): the hashes
// of the maximal perfect subtrees covering the log, left to right (one per set
// bit of size). Open reads only this record, so resuming a log of any size is
// one read. Append writes the entry, its leaf hash, every node that it
// completes, and the new meta record; nothing is ever rewritten except the
// meta record, and nothing is deleted. An Appender (a block's appends) writes
// the same records but the meta record once, at its Flush. Roots of earlier sizes and all proofs
// are assembled from the stored complete nodes with O(log n) reads; leaves are
// never scanned.
//
// # Determinism
//
// The package is part of a deterministic state machine: it uses no clocks,
// randomness, goroutines, floating point or map iteration, and Append issues
// the same Set calls in the same order for the same log and entry.
package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/medchain/medchain/store"
)

// Sentinel errors. Every error returned by this package wraps one of them or
// an error from the underlying store.
var (
	// ErrNotFound reports an index or tree size outside the log.
	ErrNotFound = errors.New("not found")
	// ErrInvalidProof is wrapped by every verification failure.
	ErrInvalidProof = errors.New("invalid proof")
	// ErrStale reports that the store no longer matches the Log value: the
	// writes made through it were discarded, or another Log appended to the
	// same prefix. Open the log again.
	ErrStale = errors.New("stale log handle")
	// ErrCorrupt reports stored audit data that is missing or malformed.
	ErrCorrupt = errors.New("corrupt log data")
)

// HashSize is the size in bytes of leaf hashes, node hashes, roots and proof
// elements (SHA-256).
const HashSize = 32

const (
	tagMeta  = 'm'
	tagEntry = 'e'
	tagNode  = 'n'

	metaVersion    = 1
	metaHeaderSize = 1 + 8     // version, size
	nodeKeySuffix  = 1 + 1 + 8 // tag, level, index
)

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// Log is an append-only RFC 6962 Merkle log stored under a key prefix of a
// store.ReadWriter.
//
// A Log caches the tree size and the compact-range frontier read by Open and
// advanced by its own Appends. It must be the only writer of its prefix in rw
// while it is in use. If the writes made through it are discarded (for
// example the caller drops or resets the overlay it was opened on), the Log
// is stale and must be thrown away and opened again on the surviving store;
// Append detects this case and fails with ErrStale instead of writing a
// corrupt tree, but read methods may return outdated results or ErrCorrupt.
// Open is a single read, so opening a Log per block (or per overlay) is cheap.
//
// A Log is not safe for concurrent use.
type Log struct {
	rw     store.ReadWriter
	prefix []byte
	rng    *compact.Range // compact range [0, size)
}

// Open returns the log stored under prefix in rw, or an empty log if nothing
// is stored there yet. It reads only the meta record. All keys the Log writes
// start with prefix (the ledger uses []byte("a/")).
func Open(rw store.ReadWriter, prefix []byte) (*Log, error) {
	l := &Log{rw: rw, prefix: bytes.Clone(prefix)}
	if l.prefix == nil {
		l.prefix = []byte{}
	}
	raw, err := rw.Get(l.metaKey())
	if err != nil {
		return nil, fmt.Errorf("audit: open: read meta: %w", err)
	}
	size, hashes, err := decodeMeta(raw)
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("audit: open: meta frontier: %w: %w", ErrCorrupt, err)
	}
	l.rng = rng
	return l, nil
}

// Size returns the number of entries in the log.
func (l *Log) Size() uint64 { return l.rng.End() }

// Append adds entry as the next leaf and returns its index. It stores a copy
// of entry, its leaf hash, the hash of every subtree the new leaf completes,
// and the updated meta record, all through rw.Set. If a Set fails the Log
// keeps its previous state, but rw may hold some of the writes: discard them
// (or the whole overlay) and re-open.
func (l *Log) Append(entry []byte) (uint64, error) {
	index := l.rng.End()
	if index == math.MaxUint64 {
		return 0, fmt.Errorf("audit: append: log is full (%d entries)", index)
	}
	if err := l.checkNotStale(); err != nil {
		return 0, fmt.Errorf("audit: append entry %d: %w", index, err)
	}

	// Advance a copy of the frontier so that a failure leaves l untouched.
	next, err := factory.NewRange(0, index, append([][]byte(nil), l.rng.Hashes()...))
	if err != nil {
		return 0, fmt.Errorf("audit: append entry %d: %w: %w", index, ErrCorrupt, err)
	}
	type node struct {
		id   compact.NodeID
		hash []byte
	}
	var completed []node // the leaf first, then its completed ancestors upwards
	leaf := hasher.HashLeaf(entry)
	if err := next.Append(leaf, func(id compact.NodeID, hash []byte) {
		completed = append(completed, node{id, hash})
	}); err != nil {
		return 0, fmt.Errorf("audit: append entry %d: %w", index, err)
	}

	value := append([]byte{}, entry...) // the store takes ownership
	if err := l.rw.Set(l.entryKey(index), value); err != nil {
		return 0, fmt.Errorf("audit: append entry %d: write entry: %w", index, err)
	}
	for _, n := range completed {
		if err := l.rw.Set(l.nodeKey(n.id), bytes.Clone(n.hash)); err != nil {
			return 0, fmt.Errorf("audit: append entry %d: write node %d/%d: %w", index, n.id.Level, n.id.Index, err)
		}
	}
	if err := l.rw.Set(l.metaKey(), encodeMeta(next.End(), next.Hashes())); err != nil {
		return 0, fmt.Errorf("audit: append entry %d: write meta: %w", index, err)
	}
	l.rng = next
	return index, nil
}

// Appender adds a run of entries to a Log (the ledger's: a block's) with
// the stored result of as many Appends, but writes the meta record once, at
// Flush, rather than after every entry, and checks for a stale Log once, when
// it is made. Each Append still writes its entry, leaf hash and completed
// nodes at once, since the index it returns is final.
//
// Until Flush the store holds entries beyond the size its meta record gives:
// a Log opened on it then sees the old size (and would overwrite them), so
// Flush before anything else reads or appends to the log. If an Append or
// Flush fails the Appender keeps failing; discard the writes and re-open, as
// after a failed Append.
type Appender struct {
	l   *Log
	rng *compact.Range // compact range [0, size) including unflushed entries
	err error
}

// NewAppender starts a run of appends to l. It reads the meta record once to
// check that l is not stale.
func (l *Log) NewAppender() (*Appender, error) {
	if err := l.checkNotStale(); err != nil {
		return nil, fmt.Errorf("audit: new appender at size %d: %w", l.Size(), err)
	}
	rng, err := factory.NewRange(0, l.rng.End(), append([][]byte(nil), l.rng.Hashes()...))
	if err != nil {
		return nil, fmt.Errorf("audit: new appender at size %d: %w: %w", l.Size(), ErrCorrupt, err)
	}
	return &Appender{l: l, rng: rng}, nil
}

// Size returns the number of entries in the log including those appended
// through a and not yet flushed.
func (a *Appender) Size() uint64 { return a.rng.End() }

// Append adds entry as the next leaf and returns its index. The store takes
// ownership of entry: the caller must not modify it afterwards.
func (a *Appender) Append(entry []byte) (uint64, error) {
	if a.err != nil {
		return 0, a.err
	}
	index := a.rng.End()
	if index == math.MaxUint64 {
		return 0, fmt.Errorf("audit: append: log is full (%d entries)", index)
	}
	l := a.l
	if a.err = l.rw.Set(l.entryKey(index), entry); a.err != nil {
		a.err = fmt.Errorf("audit: append entry %d: write entry: %w", index, a.err)
		return 0, a.err
	}
	if err := a.rng.Append(hasher.HashLeaf(entry), func(id compact.NodeID, hash []byte) {
		if a.err == nil {
			if err := l.rw.Set(l.nodeKey(id), bytes.Clone(hash)); err != nil {
				a.err = fmt.Errorf("audit: append entry %d: write node %d/%d: %w", index, id.Level, id.Index, err)
			}
		}
	}); err != nil && a.err == nil {
		a.err = fmt.Errorf("audit: append entry %d: %w", index, err)
	}
	if a.err != nil {
		return 0, a.err
	}
	return index, nil
}

// Flush writes the meta record for every entry appended through a and
// advances the Log to them. The Appender may go on appending after it.
func (a *Appender) Flush() error {
	if a.err != nil {
		return a.err
	}
	l := a.l
	if err := l.checkNotStale(); err != nil {
		a.err = fmt.Errorf("audit: flush at size %d: %w", a.rng.End(), err)
		return a.err
	}
	if a.rng.End() == l.rng.End() {
		return nil // nothing appended since the last flush
	}
	if err := l.rw.Set(l.metaKey(), encodeMeta(a.rng.End(), a.rng.Hashes())); err != nil {
		a.err = fmt.Errorf("audit: flush at size %d: write meta: %w", a.rng.End(), err)
		return a.err
	}
	next, err := factory.NewRange(0, a.rng.End(), append([][]byte(nil), a.rng.Hashes()...))
	if err != nil {
		a.err = fmt.Errorf("audit: flush at size %d: %w", a.rng.End(), err)
		return a.err
	}
	l.rng = next
	return nil
}

// Root returns the root hash of the log at its current size; for an empty log
// it is the RFC 6962 empty-tree root, SHA-256 of the empty string. It needs no
// reads.
func (l *Log) Root() ([]byte, error) {
	root, err := rootOf(l.rng)
	if err != nil {
		return nil, fmt.Errorf("audit: root at size %d: %w", l.rng.End(), err)
	}
	return root, nil
}

// RootAt returns the root hash the log had when it held size entries,
// 0 <= size <= Size(). It reads the O(log size) stored subtree hashes that
// cover [0, size).
func (l *Log) RootAt(size uint64) ([]byte, error) {
	if size > l.Size() {
		return nil, fmt.Errorf("audit: root at size %d: log size is %d: %w", size, l.Size(), ErrNotFound)
	}
	if size == l.Size() {
		return l.Root()
	}
	hashes, err := l.nodeHashes(compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("audit: root at size %d: %w", size, err)
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("audit: root at size %d: %w", size, err)
	}
	root, err := rootOf(rng)
	if err != nil {
		return nil, fmt.Errorf("audit: root at size %d: %w", size, err)
	}
	return root, nil
}

// Entry returns a copy of the entry stored at index. The bytes are checked
// against the stored leaf hash before they are returned.
func (l *Log) Entry(index uint64) ([]byte, error) {
	if index >= l.Size() {
		return nil, fmt.Errorf("audit: entry %d: log size is %d: %w", index, l.Size(), ErrNotFound)
	}
	raw, err := l.rw.Get(l.entryKey(index))
	if err != nil {
		return nil, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	// An empty entry may come back from the store as nil; the leaf hash check
	// below tells it apart from a missing one.
	entry := append([]byte{}, raw...)
	leaf, err := l.nodeHash(compact.NewNodeID(0, index))
	if err != nil {
		return nil, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	if !bytes.Equal(hasher.HashLeaf(entry), leaf) {
		return nil, fmt.Errorf("audit: entry %d: entry bytes do not match the leaf hash: %w", index, ErrCorrupt)
	}
	return entry, nil
}

// InclusionProof returns the RFC 6962 audit path proving that the entry at
// index is in the tree of the given size, 0 <= index < size <= Size(),
// ordered from the leaf upwards. It reads O(log size) stored node hashes.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	if size > l.Size() || index >= size {
		return nil, fmt.Errorf("audit: inclusion proof for entry %d in size %d: log size is %d: %w", index, size, l.Size(), ErrNotFound)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof for entry %d in size %d: %w", index, size, err)
	}
	p, err := l.buildProof(nodes)
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof for entry %d in size %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size1 is a
// prefix of the tree of size2, 0 <= size1 <= size2 <= Size(). The proof is
// empty when size1 is 0 or equal to size2. It reads O(log size2) stored node
// hashes.
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	if size2 > l.Size() || size1 > size2 {
		return nil, fmt.Errorf("audit: consistency proof %d -> %d: log size is %d: %w", size1, size2, l.Size(), ErrNotFound)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof %d -> %d: %w", size1, size2, err)
	}
	p, err := l.buildProof(nodes)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof %d -> %d: %w", size1, size2, err)
	}
	return p, nil
}

// LeafHash returns the RFC 6962 leaf hash of entry: SHA-256(0x00 || entry).
func LeafHash(entry []byte) []byte { return hasher.HashLeaf(entry) }

// VerifyInclusion checks that proofHashes shows entry at index in the tree
// of the given size whose root hash is root. It needs no store. Every failure
// wraps ErrInvalidProof.
//
// The check binds entry and index to root; it is only meaningful if root is
// known (for example from a signed checkpoint) to be the root of a tree of
// exactly size entries.
func VerifyInclusion(entry []byte, index, size uint64, proofHashes [][]byte, root []byte) error {
	if err := checkHashSizes(proofHashes); err != nil {
		return fmt.Errorf("audit: verify inclusion of entry %d in size %d: %w: %w", index, size, ErrInvalidProof, err)
	}
	if err := proof.VerifyInclusion(hasher, index, size, LeafHash(entry), proofHashes, root); err != nil {
		return fmt.Errorf("audit: verify inclusion of entry %d in size %d: %w: %w", index, size, ErrInvalidProof, describe(err))
	}
	return nil
}

// VerifyConsistency checks that proofHashes shows the tree of size1 with root
// hash root1 to be a prefix of the tree of size2 with root hash root2. It
// needs no store. Every failure wraps ErrInvalidProof.
//
// When size1 is 0 the proof must be empty and root1 must be the empty-tree
// root; root2 cannot be checked against an empty prefix. When size1 equals
// size2 the proof must be empty and the roots equal.
func VerifyConsistency(size1, size2 uint64, proofHashes [][]byte, root1, root2 []byte) error {
	if err := checkHashSizes(proofHashes); err != nil {
		return fmt.Errorf("audit: verify consistency %d -> %d: %w: %w", size1, size2, ErrInvalidProof, err)
	}
	if size1 == 0 && !bytes.Equal(root1, hasher.EmptyRoot()) {
		return fmt.Errorf("audit: verify consistency %d -> %d: %w: root1 %x is not the empty-tree root", size1, size2, ErrInvalidProof, root1)
	}
	if err := proof.VerifyConsistency(hasher, size1, size2, proofHashes, root1, root2); err != nil {
		return fmt.Errorf("audit: verify consistency %d -> %d: %w: %w", size1, size2, ErrInvalidProof, describe(err))
	}
	return nil
}

// buildProof fetches the stored hashes of nodes.IDs and folds the ones below
// the proof's ephemeral node (if any) into it.
func (l *Log) buildProof(nodes proof.Nodes) ([][]byte, error) {
	hashes, err := l.nodeHashes(nodes.IDs)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = [][]byte{}
	}
	return p, nil
}

// nodeHashes reads the stored hashes of complete subtrees, in order, as
// copies the caller may modify. Keys and copies each share one allocation.
func (l *Log) nodeHashes(ids []compact.NodeID) ([][]byte, error) {
	keySize := len(l.prefix) + nodeKeySuffix
	keys := make([]byte, 0, keySize*len(ids))
	copies := make([]byte, HashSize*len(ids))
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		keys = l.appendNodeKey(keys, id)
		h := copies[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
		if err := l.readNode(keys[i*keySize:(i+1)*keySize:(i+1)*keySize], id, h); err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return hashes, nil
}

// nodeHash reads the stored hash of one complete subtree and returns a copy
// the caller may modify.
func (l *Log) nodeHash(id compact.NodeID) ([]byte, error) {
	h := make([]byte, HashSize)
	if err := l.readNode(l.nodeKey(id), id, h); err != nil {
		return nil, err
	}
	return h, nil
}

// readNode copies the hash stored at key, the key of node id, into dst.
func (l *Log) readNode(key []byte, id compact.NodeID, dst []byte) error {
	raw, err := l.rw.Get(key)
	if err != nil {
		return fmt.Errorf("read node %d/%d: %w", id.Level, id.Index, err)
	}
	if len(raw) != HashSize {
		return fmt.Errorf("node %d/%d: %d bytes stored, want %d: %w", id.Level, id.Index, len(raw), HashSize, ErrCorrupt)
	}
	copy(dst, raw)
	return nil
}

// checkNotStale compares the stored size with the cached one.
func (l *Log) checkNotStale() error {
	raw, err := l.rw.Get(l.metaKey())
	if err != nil {
		return fmt.Errorf("read meta: %w", err)
	}
	var stored uint64
	if len(raw) != 0 {
		if len(raw) < metaHeaderSize {
			return fmt.Errorf("meta record of %d bytes: %w", len(raw), ErrCorrupt)
		}
		stored = binary.BigEndian.Uint64(raw[1:metaHeaderSize])
	}
	if stored != l.Size() {
		return fmt.Errorf("store holds %d entries, Log value %d: %w", stored, l.Size(), ErrStale)
	}
	return nil
}

// rootOf returns a fresh copy of the root hash of the compact range [0, end).
func rootOf(rng *compact.Range) ([]byte, error) {
	if rng.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(root), nil // GetRootHash may return a frontier slice
}

func (l *Log) metaKey() []byte {
	return append(append(make([]byte, 0, len(l.prefix)+1), l.prefix...), tagMeta)
}

func (l *Log) entryKey(index uint64) []byte {
	k := append(make([]byte, 0, len(l.prefix)+1+8), l.prefix...)
	k = append(k, tagEntry)
	return binary.BigEndian.AppendUint64(k, index)
}

func (l *Log) nodeKey(id compact.NodeID) []byte {
	return l.appendNodeKey(make([]byte, 0, len(l.prefix)+nodeKeySuffix), id)
}

// appendNodeKey appends the key of node id to b.
func (l *Log) appendNodeKey(b []byte, id compact.NodeID) []byte {
	b = append(b, l.prefix...)
	b = append(b, tagNode, byte(id.Level)) // levels are < 64
	return binary.BigEndian.AppendUint64(b, id.Index)
}

// encodeMeta serializes the log size and the compact range [0, size).
func encodeMeta(size uint64, hashes [][]byte) []byte {
	b := make([]byte, 0, metaHeaderSize+HashSize*len(hashes))
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, size)
	for _, h := range hashes {
		b = append(b, h...)
	}
	return b
}

// decodeMeta parses a meta record; an absent record is an empty log. The
// returned hashes are fresh copies.
func decodeMeta(raw []byte) (uint64, [][]byte, error) {
	if len(raw) == 0 {
		return 0, nil, nil
	}
	if len(raw) < metaHeaderSize || raw[0] != metaVersion {
		return 0, nil, fmt.Errorf("meta record: bad header: %w", ErrCorrupt)
	}
	size := binary.BigEndian.Uint64(raw[1:metaHeaderSize])
	n := bits.OnesCount64(size)
	if len(raw) != metaHeaderSize+n*HashSize {
		return 0, nil, fmt.Errorf("meta record: %d bytes for size %d, want %d: %w", len(raw), size, metaHeaderSize+n*HashSize, ErrCorrupt)
	}
	hashes := make([][]byte, n)
	for i := range hashes {
		off := metaHeaderSize + i*HashSize
		hashes[i] = bytes.Clone(raw[off : off+HashSize])
	}
	return size, hashes, nil
}

func checkHashSizes(hashes [][]byte) error {
	for i, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("proof hash %d has %d bytes, want %d", i, len(h), HashSize)
		}
	}
	return nil
}

// describe turns the library's multi-line root mismatch message into a
// one-line one; other errors pass through.
func describe(err error) error {
	var m proof.RootMismatchError
	if errors.As(err, &m) {
		return fmt.Errorf("calculated root %x does not match expected root %x", m.CalculatedRoot, m.ExpectedRoot)
	}
	return err
}
