package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/medchain/medchain/store"
)

var testPrefix = []byte("a/")

// testEntry is the deterministic content of entry i. Entry 0 is empty, to
// exercise the empty-value path of the store.
func testEntry(i int) []byte {
	if i == 0 {
		return []byte{}
	}
	return []byte(fmt.Sprintf("record %d: patient consent #%d", i, i*7919))
}

func testEntries(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = testEntry(i)
	}
	return out
}

// newTestLog returns a log holding entries, on a fresh in-memory store.
func newTestLog(t testing.TB, entries [][]byte) (*Log, *store.Mem) {
	t.Helper()
	db := store.NewMem()
	l, err := Open(db, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		idx, err := l.Append(e)
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		if idx != uint64(i) {
			t.Fatalf("Append returned index %d, want %d", idx, i)
		}
	}
	return l, db
}

func mustRootAt(t testing.TB, l *Log, size uint64) []byte {
	t.Helper()
	r, err := l.RootAt(size)
	if err != nil {
		t.Fatalf("RootAt(%d): %v", size, err)
	}
	return r
}

func proofsEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func hexDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The empty log has size 0, the RFC 6962 empty root SHA-256(""), and nothing
// to prove.
func TestEmptyLog(t *testing.T) {
	l, db := newTestLog(t, nil)
	emptySHA256 := sha256.Sum256(nil)
	wantRoot := hexDecode(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if !bytes.Equal(emptySHA256[:], wantRoot) {
		t.Fatal("test constant is not SHA-256 of the empty string")
	}

	if got := l.Size(); got != 0 {
		t.Errorf("Size() = %d, want 0", got)
	}
	for name, get := range map[string]func() ([]byte, error){
		"Root":      l.Root,
		"RootAt(0)": func() ([]byte, error) { return l.RootAt(0) },
	} {
		root, err := get()
		if err != nil || !bytes.Equal(root, wantRoot) {
			t.Errorf("%s = %x, %v; want %x", name, root, err, wantRoot)
		}
	}
	if p, err := l.ConsistencyProof(0, 0); err != nil || len(p) != 0 {
		t.Errorf("ConsistencyProof(0, 0) = %x, %v; want empty proof", p, err)
	}
	if err := VerifyConsistency(0, 0, nil, wantRoot, wantRoot); err != nil {
		t.Errorf("VerifyConsistency(0, 0): %v", err)
	}
	if keys := db.Keys(nil); len(keys) != 0 {
		t.Errorf("opening an empty log wrote %d keys", len(keys))
	}
}

// Root after every Append, and RootAt for every earlier size, equal the
// Merkle Tree Hash computed from the RFC 6962 definition. 130 entries cross
// the 64 and 128 power-of-two boundaries.
func TestRootsMatchRFC6962Definition(t *testing.T) {
	const n = 130
	entries := testEntries(n)
	l, _ := newTestLog(t, nil)
	for size := 0; size <= n; size++ {
		if size > 0 {
			if _, err := l.Append(entries[size-1]); err != nil {
				t.Fatal(err)
			}
		}
		want := refMTH(entries[:size])
		got, err := l.Root()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: Root() = %x, %v; want %x", size, got, err, want)
		}
	}
	for size := 0; size <= n; size++ {
		want := refMTH(entries[:size])
		if got := mustRootAt(t, l, uint64(size)); !bytes.Equal(got, want) {
			t.Errorf("RootAt(%d) = %x, want %x", size, got, want)
		}
	}
}

// The leaves, subtree hashes and roots published with RFC 6962's reference
// implementation (certificate-transparency), as exported by
// transparency-dev/merkle/testonly: the log stores exactly these node hashes,
// keeps exactly these compact ranges as its frontier, and has these roots.
func TestPublishedTreeVectors(t *testing.T) {
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	compactTrees := testonly.CompactTrees()

	l, db := newTestLog(t, nil)
	for size := 0; size <= len(leaves); size++ {
		if size > 0 {
			if _, err := l.Append(leaves[size-1]); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := l.Root(); !bytes.Equal(got, roots[size]) {
			t.Errorf("size %d: Root() = %x, want %x", size, got, roots[size])
		}
		reopened, err := Open(db, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := reopened.rng.Hashes(), compactTrees[size]; !proofsEqual(got, want) {
			t.Errorf("size %d: stored frontier = %x, want %x", size, got, want)
		}
	}
	if !bytes.Equal(roots[0], testonly.EmptyRootHash()) {
		t.Fatal("testonly vectors inconsistent")
	}
	for size := range roots {
		if got := mustRootAt(t, l, uint64(size)); !bytes.Equal(got, roots[size]) {
			t.Errorf("RootAt(%d) = %x, want %x", size, got, roots[size])
		}
	}
	for level, row := range testonly.NodeHashes() {
		for index, want := range row {
			id := compact.NewNodeID(uint(level), uint64(index))
			got, err := db.Get(l.nodeKey(id))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("node %d/%d = %x, %v; want %x", level, index, got, err, want)
			}
		}
	}
	for i, leaf := range leaves {
		if got := LeafHash(leaf); !bytes.Equal(got, testonly.NodeHashes()[0][i]) {
			t.Errorf("LeafHash(leaf %d) = %x", i, got)
		}
		if got, err := l.Entry(uint64(i)); err != nil || !bytes.Equal(got, leaf) {
			t.Errorf("Entry(%d) = %x, %v; want %x", i, got, err, leaf)
		}
	}
}

// The inclusion and consistency proof vectors of the certificate-transparency
// reference tests (merkle_tree_test.cc), over the eight testonly leaves. The
// leaf numbers there are 1-based; here they are converted to 0-based indexes.
// transparency-dev/merkle keeps them in unexported test code, so they are
// restated here.
func TestPublishedProofVectors(t *testing.T) {
	leaves := testonly.LeafInputs()
	l, _ := newTestLog(t, leaves)
	h := func(s string) []byte { return hexDecode(t, s) }

	inclusion := []struct {
		index, size uint64
		proof       [][]byte
	}{
		{0, 1, [][]byte{}},
		{0, 8, [][]byte{
			h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{5, 8, [][]byte{
			h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
			h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{2, 3, [][]byte{
			h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
		}},
		{1, 5, [][]byte{
			h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
			h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
	}
	for _, v := range inclusion {
		got, err := l.InclusionProof(v.index, v.size)
		if err != nil || !proofsEqual(got, v.proof) {
			t.Errorf("InclusionProof(%d, %d) = %x, %v; want %x", v.index, v.size, got, err, v.proof)
		}
		root := testonly.RootHashes()[v.size]
		if err := VerifyInclusion(leaves[v.index], v.index, v.size, v.proof, root); err != nil {
			t.Errorf("VerifyInclusion(%d, %d): %v", v.index, v.size, err)
		}
	}

	consistency := []struct {
		size1, size2 uint64
		proof        [][]byte
	}{
		{1, 1, [][]byte{}},
		{1, 8, [][]byte{
			h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{6, 8, [][]byte{
			h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{2, 5, [][]byte{
			h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
		{6, 7, [][]byte{
			h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
			h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
	}
	for _, v := range consistency {
		got, err := l.ConsistencyProof(v.size1, v.size2)
		if err != nil || !proofsEqual(got, v.proof) {
			t.Errorf("ConsistencyProof(%d, %d) = %x, %v; want %x", v.size1, v.size2, got, err, v.proof)
		}
		roots := testonly.RootHashes()
		if err := VerifyConsistency(v.size1, v.size2, v.proof, roots[v.size1], roots[v.size2]); err != nil {
			t.Errorf("VerifyConsistency(%d, %d): %v", v.size1, v.size2, err)
		}
	}
}

// tamperings returns variants of p that must never verify: each hash with
// one byte flipped, a hash dropped from either end, and a hash added at
// either end.
func tamperings(p [][]byte) []struct {
	name  string
	proof [][]byte
} {
	type variant = struct {
		name  string
		proof [][]byte
	}
	var out []variant
	clone := func() [][]byte {
		c := make([][]byte, len(p))
		for i := range p {
			c[i] = bytes.Clone(p[i])
		}
		return c
	}
	for i := range p {
		c := clone()
		c[i][i%HashSize] ^= 0x01
		out = append(out, variant{fmt.Sprintf("flip byte of hash %d", i), c})
	}
	if len(p) > 0 {
		out = append(out,
			variant{"drop first hash", clone()[1:]},
			variant{"drop last hash", clone()[:len(p)-1]})
	}
	extra := refLeafHash([]byte("extra"))
	out = append(out,
		variant{"append hash", append(clone(), extra)},
		variant{"prepend hash", append([][]byte{extra}, clone()...)})
	if len(p) > 0 {
		out = append(out, variant{"repeat last hash", append(clone(), bytes.Clone(p[len(p)-1]))})
	}
	return out
}

func flipped(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 0x80
	return c
}

func wantInvalid(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err == nil {
		t.Errorf(format+": accepted, want ErrInvalidProof", args...)
	} else if !errors.Is(err, ErrInvalidProof) {
		t.Errorf(format+": error %v does not wrap ErrInvalidProof", append(args, err)...)
	}
}

// For every tree size up to 70 and every index in it, the inclusion proof is
// the RFC 6962 audit path, verifies against RootAt(size), and every tampered
// variant of the claim is rejected with ErrInvalidProof.
func TestInclusionProofs(t *testing.T) {
	const n = 70
	entries := testEntries(n)
	l, _ := newTestLog(t, entries)
	roots := make([][]byte, n+1)
	for s := range roots {
		roots[s] = mustRootAt(t, l, uint64(s))
	}

	for size := uint64(1); size <= n; size++ {
		for index := uint64(0); index < size; index++ {
			p, err := l.InclusionProof(index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			if want := refPath(int(index), entries[:size]); !proofsEqual(p, want) {
				t.Fatalf("InclusionProof(%d, %d) = %x, want RFC 6962 PATH %x", index, size, p, want)
			}
			entry, root := entries[index], roots[size]
			if err := VerifyInclusion(entry, index, size, p, root); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", index, size, err)
			}

			for _, v := range tamperings(p) {
				wantInvalid(t, VerifyInclusion(entry, index, size, v.proof, root), "index %d size %d: %s", index, size, v.name)
			}
			wantInvalid(t, VerifyInclusion(append(bytes.Clone(entry), 'x'), index, size, p, root), "index %d size %d: wrong entry", index, size)
			wantInvalid(t, VerifyInclusion(entry, index, size, p, flipped(root)), "index %d size %d: wrong root", index, size)
			wantInvalid(t, VerifyInclusion(entry, index, 0, p, roots[0]), "index %d size %d: size 0", index, size)
			wantInvalid(t, VerifyInclusion(entry, size, size, p, root), "index %d size %d: index == size", index, size)

			// The same proof presented for another index (with this entry or
			// the one really there) is rejected.
			for _, other := range []uint64{index - 1, index + 1, 0, size - 1} {
				if other == index || other >= size {
					continue
				}
				wantInvalid(t, VerifyInclusion(entry, other, size, p, root), "index %d size %d: claimed index %d", index, size, other)
				wantInvalid(t, VerifyInclusion(entries[other], other, size, p, root), "index %d size %d: entry %d at its index", index, size, other)
			}
			// The same proof presented for another tree size, against that
			// size's root, is rejected unless it is also that size's honest
			// proof. (Against the root of the original size a shorter or
			// longer size can verify: a root means nothing without the size
			// it was signed with, which is why checkpoints carry both.)
			for _, other := range []uint64{size - 1, size + 1} {
				if other == 0 || other > n || index >= other {
					continue
				}
				honest, err := l.InclusionProof(index, other)
				if err != nil {
					t.Fatal(err)
				}
				if proofsEqual(honest, p) {
					continue
				}
				wantInvalid(t, VerifyInclusion(entry, index, other, p, roots[other]), "index %d size %d: claimed size %d", index, size, other)
			}
		}
	}
}

// For every 0 <= size1 <= size2 <= 70 the consistency proof is RFC 6962's
// PROOF(size1, D[size2]), verifies, and every tampered claim is rejected.
func TestConsistencyProofs(t *testing.T) {
	const n = 70
	entries := testEntries(n)
	l, _ := newTestLog(t, entries)
	roots := make([][]byte, n+1)
	for s := range roots {
		roots[s] = mustRootAt(t, l, uint64(s))
	}

	for size2 := uint64(0); size2 <= n; size2++ {
		for size1 := uint64(0); size1 <= size2; size1++ {
			p, err := l.ConsistencyProof(size1, size2)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", size1, size2, err)
			}
			if want := refProof(int(size1), entries[:size2]); !proofsEqual(p, want) {
				t.Fatalf("ConsistencyProof(%d, %d) = %x, want RFC 6962 PROOF %x", size1, size2, p, want)
			}
			r1, r2 := roots[size1], roots[size2]
			if err := VerifyConsistency(size1, size2, p, r1, r2); err != nil {
				t.Fatalf("VerifyConsistency(%d, %d): %v", size1, size2, err)
			}

			for _, v := range tamperings(p) {
				wantInvalid(t, VerifyConsistency(size1, size2, v.proof, r1, r2), "%d -> %d: %s", size1, size2, v.name)
			}
			wantInvalid(t, VerifyConsistency(size1, size2, p, flipped(r1), r2), "%d -> %d: wrong root1", size1, size2)
			if size1 > 0 { // nothing about root2 can be checked against an empty prefix
				wantInvalid(t, VerifyConsistency(size1, size2, p, r1, flipped(r2)), "%d -> %d: wrong root2", size1, size2)
			}
			if size1 != size2 {
				wantInvalid(t, VerifyConsistency(size2, size1, p, r2, r1), "%d -> %d: sizes swapped", size1, size2)
			}

			// The proof presented for neighbouring sizes, with their honest
			// roots, is rejected unless it is their honest proof too (for
			// example the empty proof for 0 -> anything).
			claims := [][2]uint64{{size1 - 1, size2}, {size1 + 1, size2}, {size1, size2 - 1}, {size1, size2 + 1}}
			for _, c := range claims {
				c1, c2 := c[0], c[1]
				if c2 > n || c1 > c2 {
					continue // also skips the wrapped-around size1-1 and size2-1
				}
				honest, err := l.ConsistencyProof(c1, c2)
				if err != nil {
					t.Fatal(err)
				}
				if proofsEqual(honest, p) {
					continue
				}
				wantInvalid(t, VerifyConsistency(c1, c2, p, roots[c1], roots[c2]), "%d -> %d: claimed %d -> %d", size1, size2, c1, c2)
			}
		}
	}
}

// A Log reopened from the store after any number of appends continues
// exactly like one that never closed: same roots after every append, and
// byte-identical store contents at the end.
func TestReopen(t *testing.T) {
	const n = 200
	entries := testEntries(n)
	want, wantDB := newTestLog(t, entries)

	db := store.NewMem()
	next := 0
	for chunk := 1; next < n; chunk++ { // chunks of 1, 2, 3, ... entries
		l, err := Open(db, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if l.Size() != uint64(next) {
			t.Fatalf("reopened Size() = %d, want %d", l.Size(), next)
		}
		for i := 0; i < chunk && next < n; i++ {
			if _, err := l.Append(entries[next]); err != nil {
				t.Fatal(err)
			}
			next++
			got, _ := l.Root()
			if w := mustRootAt(t, want, uint64(next)); !bytes.Equal(got, w) {
				t.Fatalf("size %d: Root() = %x, want %x", next, got, w)
			}
		}
	}

	gotKeys, wantKeys := db.Keys(nil), wantDB.Keys(nil)
	if !proofsEqual(gotKeys, wantKeys) {
		t.Fatalf("reopened log wrote %d keys, uninterrupted log %d", len(gotKeys), len(wantKeys))
	}
	for _, k := range wantKeys {
		g, _ := db.Get(k)
		w, _ := wantDB.Get(k)
		if !bytes.Equal(g, w) {
			t.Errorf("key %q: %x, want %x", k, g, w)
		}
	}
}

// The intended use: stage appends in an overlay, persist the overlay at
// commit. A Log whose overlay was discarded refuses to append (ErrStale); a
// reopened one continues from the committed state.
func TestOverlayCommitAndDiscard(t *testing.T) {
	entries := testEntries(10)
	ref, _ := newTestLog(t, entries)
	db := store.NewMem()

	// Block 1 commits entries 0..5.
	ov := store.NewOverlay(db)
	l, err := Open(ov, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries[:6] {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := ov.WriteTo(db); err != nil {
		t.Fatal(err)
	}

	// Block 2 appends entries 6..7, then is abandoned.
	ov = store.NewOverlay(db)
	if l, err = Open(ov, testPrefix); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries[6:8] {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	ov.Reset()
	if _, err := l.Append(entries[8]); !errors.Is(err, ErrStale) {
		t.Fatalf("Append on a Log whose writes were discarded: %v, want ErrStale", err)
	}

	// Reopened, the log is at the committed size and carries on.
	if l, err = Open(ov, testPrefix); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 6 {
		t.Fatalf("Size() after discard = %d, want 6", l.Size())
	}
	for _, e := range entries[6:] {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := ov.WriteTo(db); err != nil {
		t.Fatal(err)
	}
	committed, err := Open(db, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := committed.Root()
	want, _ := ref.Root()
	if committed.Size() != 10 || !bytes.Equal(got, want) {
		t.Fatalf("committed log: size %d root %x, want size 10 root %x", committed.Size(), got, want)
	}
}

// Two Log values on the same prefix cannot both append: the second notices.
func TestSecondWriterIsStale(t *testing.T) {
	db := store.NewMem()
	l1, _ := Open(db, testPrefix)
	l2, _ := Open(db, testPrefix)
	if _, err := l1.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Append([]byte("two")); !errors.Is(err, ErrStale) {
		t.Fatalf("second writer: %v, want ErrStale", err)
	}
}

// failingStore fails the failAt-th Set (1-based) and every one after it.
type failingStore struct {
	store.ReadWriter
	sets, failAt int
}

var errDisk = errors.New("disk full")

func (f *failingStore) Set(k, v []byte) error {
	f.sets++
	if f.sets >= f.failAt {
		return errDisk
	}
	return f.ReadWriter.Set(k, v)
}

// A failed write leaves the Log value where it was: Size and Root unchanged.
func TestAppendWriteFailure(t *testing.T) {
	entries := testEntries(8)
	for failAt := 1; failAt <= 6; failAt++ { // appending entry 7 writes 6 keys
		fs := &failingStore{ReadWriter: store.NewMem(), failAt: 1 << 30}
		l, err := Open(fs, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[:7] {
			if _, err := l.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := l.Root()
		fs.sets, fs.failAt = 0, failAt
		if _, err := l.Append(entries[7]); !errors.Is(err, errDisk) {
			t.Fatalf("failAt %d: Append error %v, want it to wrap the store error", failAt, err)
		}
		after, _ := l.Root()
		if l.Size() != 7 || !bytes.Equal(before, after) {
			t.Errorf("failAt %d: failed Append changed the Log: size %d", failAt, l.Size())
		}
	}
}

// recorder logs every write, to check what Append does to the store.
type recorder struct {
	store.ReadWriter
	ops []string
}

func (r *recorder) Set(k, v []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("set %q %x", k, v))
	return r.ReadWriter.Set(k, v)
}

func (r *recorder) Delete(k []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("delete %q", k))
	return r.ReadWriter.Delete(k)
}

// Append is deterministic and append-only: the same entries produce the
// same sequence of Set calls, never a Delete, all under the prefix; it
// writes the entry, the leaf hash, one hash per completed subtree, and the
// meta record.
func TestAppendWrites(t *testing.T) {
	run := func() []string {
		rec := &recorder{ReadWriter: store.NewMem()}
		l, err := Open(rec, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			before := len(rec.ops)
			if _, err := l.Append(testEntry(i)); err != nil {
				t.Fatal(err)
			}
			// Leaf i completes one subtree per trailing one bit of i.
			want := 3 + bits.TrailingZeros64(^uint64(i))
			if got := len(rec.ops) - before; got != want {
				t.Fatalf("Append(%d) made %d writes, want %d", i, got, want)
			}
		}
		return rec.ops
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatalf("runs made %d and %d writes", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("write %d differs between runs: %s vs %s", i, a[i], b[i])
		}
		if !bytes.HasPrefix([]byte(a[i]), []byte(`set "a/`)) {
			t.Fatalf("write %d is not a Set under the prefix: %s", i, a[i])
		}
	}
}

// The key layout: fixed-width big-endian fields after the prefix, so entry
// and node keys sort by index, and two prefixes in one store are independent.
func TestKeyLayout(t *testing.T) {
	db := store.NewMem()
	la, _ := Open(db, []byte("a/"))
	lb, _ := Open(db, []byte("b/"))
	const n = 300
	for i := 0; i < n; i++ {
		if _, err := la.Append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := lb.Append(testEntry(n - i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	if got, want := string(la.entryKey(0x0102)), "a/e\x00\x00\x00\x00\x00\x00\x01\x02"; got != want {
		t.Errorf("entryKey = %q, want %q", got, want)
	}
	if got, want := string(la.nodeKey(compact.NewNodeID(3, 0x0a))), "a/n\x03\x00\x00\x00\x00\x00\x00\x00\x0a"; got != want {
		t.Errorf("nodeKey = %q, want %q", got, want)
	}
	if got, want := string(la.metaKey()), "a/m"; got != want {
		t.Errorf("metaKey = %q, want %q", got, want)
	}

	// Sorted entry keys are in index order.
	entryKeys := db.Keys([]byte("a/e"))
	if len(entryKeys) != n {
		t.Fatalf("%d entry keys, want %d", len(entryKeys), n)
	}
	for i, k := range entryKeys {
		if !bytes.Equal(k, la.entryKey(uint64(i))) {
			t.Fatalf("entry key %d out of order: %q", i, k)
		}
	}
	// One node per complete subtree: 2n - popcount(n) of them.
	if got, want := len(db.Keys([]byte("a/n"))), 2*n-bits.OnesCount(n); got != want {
		t.Errorf("%d node keys, want %d", got, want)
	}
	if got, want := len(db.Keys(nil)), len(db.Keys([]byte("a/")))+len(db.Keys([]byte("b/"))); got != want {
		t.Errorf("%d keys outside the two prefixes", got-want)
	}

	// Each log is intact.
	var bEntries [][]byte
	for i := 0; i < n; i += 2 {
		bEntries = append(bEntries, testEntry(n-i))
	}
	gotA, _ := la.Root()
	gotB, _ := lb.Root()
	if !bytes.Equal(gotA, refMTH(testEntries(n))) || !bytes.Equal(gotB, refMTH(bEntries)) {
		t.Error("logs sharing a store interfere")
	}
}

// Entry returns what was appended, as a copy that does not alias the store
// nor the caller's slice, and detects stored bytes that no longer match the
// leaf hash.
func TestEntry(t *testing.T) {
	db := store.NewMem()
	ov := store.NewOverlay(db) // the overlay keeps values without copying
	l, _ := Open(ov, testPrefix)

	in := []byte("mutable")
	if _, err := l.Append(in); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(nil); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	got, err := l.Entry(0)
	if err != nil || string(got) != "mutable" {
		t.Fatalf("Entry(0) = %q, %v; the log must copy appended bytes", got, err)
	}
	got[0] = 'Y'
	if again, _ := l.Entry(0); string(again) != "mutable" {
		t.Fatalf("Entry(0) after modifying a returned entry = %q", again)
	}
	if got, err := l.Entry(1); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Entry(1) = %#v, %v; want empty, non-nil", got, err)
	}

	// Proof hashes do not alias the store either.
	p, _ := l.InclusionProof(0, 2)
	p[0][0] ^= 0xff
	root, _ := l.Root()
	if p2, _ := l.InclusionProof(0, 2); VerifyInclusion([]byte("mutable"), 0, 2, p2, root) != nil {
		t.Fatal("modifying a returned proof changed the stored nodes")
	}

	if err := ov.Set(l.entryKey(0), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Entry(0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Entry of forged bytes: %v, want ErrCorrupt", err)
	}
}

// Indexes and sizes beyond the log are ErrNotFound.
func TestOutOfRange(t *testing.T) {
	l, _ := newTestLog(t, testEntries(5))
	for name, call := range map[string]func() error{
		"Entry(5)":                 func() error { _, err := l.Entry(5); return err },
		"RootAt(6)":                func() error { _, err := l.RootAt(6); return err },
		"InclusionProof(5, 5)":     func() error { _, err := l.InclusionProof(5, 5); return err },
		"InclusionProof(0, 6)":     func() error { _, err := l.InclusionProof(0, 6); return err },
		"InclusionProof(0, 0)":     func() error { _, err := l.InclusionProof(0, 0); return err },
		"ConsistencyProof(0, 6)":   func() error { _, err := l.ConsistencyProof(0, 6); return err },
		"ConsistencyProof(4, 3)":   func() error { _, err := l.ConsistencyProof(4, 3); return err },
		"ConsistencyProof(6, 6)":   func() error { _, err := l.ConsistencyProof(6, 6); return err },
		"Entry(MaxUint64)":         func() error { _, err := l.Entry(^uint64(0)); return err },
		"InclusionProof(Max, Max)": func() error { _, err := l.InclusionProof(^uint64(0), ^uint64(0)); return err },
	} {
		if err := call(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

// A malformed meta record is reported, not trusted.
func TestOpenCorruptMeta(t *testing.T) {
	_, db := newTestLog(t, testEntries(5))
	good, _ := db.Get([]byte("a/m"))
	for name, meta := range map[string][]byte{
		"truncated":      good[:len(good)-1],
		"extra byte":     append(bytes.Clone(good), 0),
		"header only":    good[:metaHeaderSize],
		"bad version":    append([]byte{9}, good[1:]...),
		"short":          {1, 2, 3},
		"size mismatch":  append(append([]byte{metaVersion}, make([]byte, 7)...), append([]byte{7}, good[metaHeaderSize:]...)...),
		"hashes missing": {metaVersion, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if err := db.Set([]byte("a/m"), meta); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(db, testPrefix); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Open: %v, want ErrCorrupt", name, err)
		}
	}
}

// Verification edge cases that do not come from a log.
func TestVerifyEdgeCases(t *testing.T) {
	l, _ := newTestLog(t, testEntries(3))
	r0, r3 := mustRootAt(t, l, 0), mustRootAt(t, l, 3)
	p, _ := l.InclusionProof(1, 3)

	short := [][]byte{p[0][:31], p[1]}
	wantInvalid(t, VerifyInclusion(testEntry(1), 1, 3, short, r3), "31-byte proof hash")
	wantInvalid(t, VerifyInclusion(testEntry(1), 1, 3, [][]byte{nil, p[1]}, r3), "nil proof hash")
	wantInvalid(t, VerifyInclusion(testEntry(1), 1, 3, p, nil), "nil root")

	// Anything is consistent with the empty tree, but root1 must really be
	// the empty root.
	if err := VerifyConsistency(0, 3, nil, r0, r3); err != nil {
		t.Errorf("0 -> 3: %v", err)
	}
	wantInvalid(t, VerifyConsistency(0, 3, nil, r3, r3), "0 -> 3 with a non-empty root1")
	wantInvalid(t, VerifyConsistency(0, 3, nil, nil, r3), "0 -> 3 with a nil root1")
	wantInvalid(t, VerifyConsistency(3, 3, nil, r3, r0), "3 -> 3 with different roots")
	wantInvalid(t, VerifyConsistency(3, 3, [][]byte{r3}, r3, r3), "3 -> 3 with a non-empty proof")
	wantInvalid(t, VerifyConsistency(2, 3, [][]byte{r3[:5]}, r3, r3), "short consistency hash")
}
