package smt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/medchain/medchain/store"
)

// The empty tree's root is Empty, and deleting from it changes nothing.
func TestEmptyTree(t *testing.T) {
	tr, mem := newTree()
	if got := mustUpdate(t, tr, Empty); got != Empty {
		t.Fatalf("no changes: root %s, want Empty", got)
	}
	if got := mustUpdate(t, tr, Empty, del("a"), del("b")); got != Empty {
		t.Fatalf("deletes only: root %s, want Empty", got)
	}
	if keys := mem.Keys(testPrefix); len(keys) != 0 {
		t.Fatalf("empty tree wrote %d nodes", len(keys))
	}
}

// A single key's root is its leaf hash, and the leaf is stored under
// prefix || hash as 0x00 || path || valueHash.
func TestSingleKey(t *testing.T) {
	tr, mem := newTree()
	root := mustUpdate(t, tr, Empty, set("alice", "1"))

	path, vh := KeyPath([]byte("alice")), ValueHash([]byte("1"))
	if want := LeafHash(path, vh); root != want {
		t.Fatalf("root %s, want leaf hash %s", root, want)
	}
	enc, _ := mem.Get(append(slices.Clone(testPrefix), root[:]...))
	want := append(append([]byte{0x00}, path[:]...), vh[:]...)
	if !bytes.Equal(enc, want) {
		t.Fatalf("stored leaf %x, want %x", enc, want)
	}
	if got := mustUpdate(t, tr, root, del("alice")); got != Empty {
		t.Fatalf("after deleting the only key: root %s, want Empty", got)
	}
}

// Two keys whose paths agree on their first d bits: the root is a chain of d
// internal nodes with one Empty child each, ending in the internal node at
// depth d that holds the two leaves. Computed here by hand from the bits.
func TestTwoKeysByHand(t *testing.T) {
	const d = 5 // divergence depth we want to exercise
	a := "alice"
	pa := KeyPath([]byte(a))
	var b string
	for i := 0; ; i++ {
		b = fmt.Sprintf("key-%d", i)
		if commonPrefixLen(pa, KeyPath([]byte(b))) == d {
			break
		}
	}
	pb := KeyPath([]byte(b))
	la := LeafHash(pa, ValueHash([]byte("A")))
	lb := LeafHash(pb, ValueHash([]byte("B")))

	var want Hash
	if bitAt(pa[:], d) == 0 { // a goes left at depth d, b right
		want = internalHash(la, lb)
	} else {
		want = internalHash(lb, la)
	}
	for i := d - 1; i >= 0; i-- { // both go the same way above depth d
		if bitAt(pa[:], i) == 0 {
			want = internalHash(want, Empty)
		} else {
			want = internalHash(Empty, want)
		}
	}

	tr, _ := newTree()
	if got := mustUpdate(t, tr, Empty, set(a, "A"), set(b, "B")); got != want {
		t.Fatalf("one batch: root %s, want %s", got, want)
	}
	r1 := mustUpdate(t, tr, Empty, set(b, "B"))
	if got := mustUpdate(t, tr, r1, set(a, "A")); got != want {
		t.Fatalf("b then a: root %s, want %s", got, want)
	}

	// The proof for a goes d+1 levels down and has one non-empty sibling, b's
	// leaf, at depth d.
	p := mustProve(t, tr, want, a)
	if p.Depth != d+1 || len(p.Siblings) != 1 || p.Siblings[0] != lb {
		t.Fatalf("proof depth %d siblings %v, want depth %d and [%s]", p.Depth, p.Siblings, d+1, lb)
	}

	// Deleting b collapses the whole chain: a's leaf becomes the root.
	if got := mustUpdate(t, tr, want, del(b)); got != la {
		t.Fatalf("after deleting b: root %s, want a's leaf %s", got, la)
	}
}

// The root depends only on the final set of pairs: one batch, one key at a
// time, random batches, and detours through keys that are later deleted or
// values later restored all give the same root; deleting everything gives
// Empty.
func TestOrderIndependence(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := randomModel(r, 400)
	want := refRoot(m)

	t.Run("one batch", func(t *testing.T) {
		tr, _ := newTree()
		if got := mustUpdate(t, tr, Empty, shuffled(r, m.changes())...); got != want {
			t.Fatalf("root %s, want %s", got, want)
		}
	})
	t.Run("one at a time", func(t *testing.T) {
		tr, _ := newTree()
		root := Empty
		for _, c := range shuffled(r, m.changes()) {
			root = mustUpdate(t, tr, root, c)
		}
		if root != want {
			t.Fatalf("root %s, want %s", root, want)
		}
	})
	t.Run("random batches", func(t *testing.T) {
		tr, _ := newTree()
		root, cs := Empty, shuffled(r, m.changes())
		for len(cs) > 0 {
			n := min(1+r.IntN(50), len(cs))
			root = mustUpdate(t, tr, root, cs[:n]...)
			cs = cs[n:]
		}
		if root != want {
			t.Fatalf("root %s, want %s", root, want)
		}
	})
	t.Run("cancelling detours", func(t *testing.T) {
		tr, _ := newTree()
		root := mustUpdate(t, tr, Empty, m.changes()...)
		extra := randomModel(r, 200)
		var detour, undo []store.Change
		for k, v := range extra {
			if _, clash := m[k]; !clash {
				detour = append(detour, set(k, v))
				undo = append(undo, del(k))
			}
		}
		for _, k := range m.sortedKeys()[:100] {
			detour = append(detour, set(k, "overwritten"))
			undo = append(undo, set(k, m[k]))
		}
		mid := mustUpdate(t, tr, root, shuffled(r, detour)...)
		if mid == want {
			t.Fatal("detour did not change the root")
		}
		if got := mustUpdate(t, tr, mid, shuffled(r, undo)...); got != want {
			t.Fatalf("after undoing the detour: root %s, want %s", got, want)
		}
		// The same detour and undo in a single batch: last change wins.
		if got := mustUpdate(t, tr, root, append(detour, undo...)...); got != want {
			t.Fatalf("detour+undo in one batch: root %s, want %s", got, want)
		}
	})
	t.Run("delete everything", func(t *testing.T) {
		tr, _ := newTree()
		root := mustUpdate(t, tr, Empty, m.changes()...)
		var dels []store.Change
		for k := range m {
			dels = append(dels, del(k))
		}
		dels = shuffled(r, dels)
		for len(dels) > 0 {
			n := min(1+r.IntN(60), len(dels))
			root = mustUpdate(t, tr, root, dels[:n]...)
			dels = dels[n:]
		}
		if root != Empty {
			t.Fatalf("root %s after deleting every key, want Empty", root)
		}
	})
}

// Within a batch, the last change to a key wins.
func TestDuplicateKeysLastWins(t *testing.T) {
	tr, _ := newTree()
	base := mustUpdate(t, tr, Empty, set("x", "0"), set("y", "0"))
	cases := []struct {
		name  string
		batch []store.Change
		want  model
	}{
		{"set twice", []store.Change{set("k", "1"), set("k", "2")}, model{"x": "0", "y": "0", "k": "2"}},
		{"set then delete", []store.Change{set("k", "1"), del("k")}, model{"x": "0", "y": "0"}},
		{"delete then set", []store.Change{del("x"), set("x", "3")}, model{"x": "3", "y": "0"}},
		{"set then delete existing", []store.Change{set("x", "9"), del("x")}, model{"y": "0"}},
		{"interleaved", []store.Change{set("k", "1"), set("x", "5"), del("k"), set("x", "6"), set("k", "7")}, model{"x": "6", "y": "0", "k": "7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkAgainstModel(t, tr, mustUpdate(t, tr, base, c.batch...), c.want)
		})
	}
}

// Deleting absent keys leaves the root as it is and writes nothing.
func TestDeleteAbsentIsNoop(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := randomModel(r, 50)
	mem := store.NewMem()
	cs := &countingStore{ReadWriter: mem}
	tr := New(cs, testPrefix)
	root := mustUpdate(t, tr, Empty, m.changes()...)
	cs.sets = 0
	var dels []store.Change
	for i := range 100 {
		dels = append(dels, del(fmt.Sprintf("absent-%d", i)))
	}
	if got := mustUpdate(t, tr, root, dels...); got != root {
		t.Fatalf("deleting absent keys changed the root: %s -> %s", root, got)
	}
	if cs.sets != 0 {
		t.Fatalf("deleting absent keys wrote %d nodes", cs.sets)
	}
}

// Update writes exactly the nodes on the changed paths, so its cost grows
// with the number of changes times the depth, not with the tree size.
func TestUpdateWritesOnlyChangedPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := randomModel(r, 10_000)
	cs := &countingStore{ReadWriter: store.NewMem()}
	tr := New(cs, testPrefix)
	root := mustUpdate(t, tr, Empty, m.changes()...)

	// Overwrite 100 existing values. The tree's shape does not change, so the
	// new nodes are the leaves and internal nodes at the positions along
	// those keys' paths: each distinct (depth, path prefix) position once.
	keys := m.sortedKeys()
	positions := map[string]bool{}
	var batch []store.Change
	for _, i := range r.Perm(len(keys))[:100] {
		k := keys[i]
		batch = append(batch, set(k, "new"))
		p := mustProve(t, tr, root, k)
		path := KeyPath([]byte(k))
		for d := 0; d <= p.Depth; d++ {
			positions[fmt.Sprintf("%d/%x", d, prefixBits(path, d))] = true
		}
	}
	cs.sets, cs.gets = 0, 0
	mustUpdate(t, tr, root, batch...)
	if cs.sets != len(positions) {
		t.Fatalf("wrote %d nodes, want %d (one per changed position)", cs.sets, len(positions))
	}
	// Every node read is one being replaced (the old node at a changed position).
	if cs.gets > len(positions) {
		t.Fatalf("read %d nodes, more than the %d changed positions", cs.gets, len(positions))
	}
	t.Logf("100 overwrites in 10k keys: %d nodes written, %d read", cs.sets, cs.gets)
}

// prefixBits returns the first n bits of h, the rest zeroed.
func prefixBits(h Hash, n int) Hash {
	var out Hash
	for i := 0; i < n; i++ {
		out[i/8] |= bitAt(h[:], i) << (7 - uint(i%8))
	}
	return out
}

// Update must not reorder or modify the caller's slice.
func TestUpdateLeavesChangesAlone(t *testing.T) {
	tr, _ := newTree()
	cs := []store.Change{set("b", "2"), set("a", "1"), del("c"), set("a", "3")}
	orig := slices.Clone(cs)
	mustUpdate(t, tr, Empty, cs...)
	for i := range cs {
		if !bytes.Equal(cs[i].Key, orig[i].Key) || !bytes.Equal(cs[i].Value, orig[i].Value) {
			t.Fatalf("change %d modified: %+v -> %+v", i, orig[i], cs[i])
		}
	}
}

// An empty value is a value (sha256 of nothing), distinct from deletion.
func TestEmptyValueIsNotDelete(t *testing.T) {
	tr, _ := newTree()
	root := mustUpdate(t, tr, Empty, store.Change{Key: []byte("k"), Value: []byte{}})
	if want := LeafHash(KeyPath([]byte("k")), ValueHash(nil)); root != want {
		t.Fatalf("root %s, want %s", root, want)
	}
	if err := mustProve(t, tr, root, "k").Verify(root, []byte("k"), []byte{}); err != nil {
		t.Fatalf("membership of empty value: %v", err)
	}
}

// Many random batches (inserts, overwrites, deletes of present and absent
// keys, duplicates) applied incrementally always give the root the reference
// model computes from scratch, and a tree in canonical form.
func TestMatchesReferenceModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	tr, _ := newTree()
	m, root := model{}, Empty
	key := func() string { return fmt.Sprintf("k%d", r.IntN(3000)) }
	for batch := range 300 {
		var cs []store.Change
		n := 1 + r.IntN(40)
		if batch%50 == 49 {
			n = len(m) // now and then a big batch
		}
		present := m.sortedKeys()
		for range n {
			switch x := r.IntN(10); {
			case x < 5:
				cs = append(cs, set(key(), fmt.Sprint(r.Uint32())))
			case x < 8 && len(present) > 0:
				cs = append(cs, del(present[r.IntN(len(present))]))
			case x < 9:
				cs = append(cs, del(key()))
			default:
				k := key()
				cs = append(cs, set(k, "a"), del(k), set(k, "b"))
			}
		}
		root = mustUpdate(t, tr, root, cs...)
		m.apply(cs)
		checkAgainstModel(t, tr, root, m)
	}
	t.Logf("final tree: %d keys", len(m))
}

// The same property with rapid: arbitrary byte keys (including the empty
// key) and values (including empty), several batches per run.
func TestMatchesReferenceModelRapid(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tr, _ := newTree()
		m, root := model{}, Empty
		keyGen := rapid.OneOf(
			rapid.SampledFrom([]string{"", "a", "b", "c", "d", "e"}),
			rapid.StringN(0, 8, -1),
		)
		changeGen := rapid.Custom(func(rt *rapid.T) store.Change {
			k := keyGen.Draw(rt, "key")
			if rapid.Bool().Draw(rt, "delete") {
				return del(k)
			}
			return store.Change{Key: []byte(k), Value: append([]byte{}, rapid.SliceOfN(rapid.Byte(), 0, 4).Draw(rt, "value")...)}
		})
		for range rapid.IntRange(1, 8).Draw(rt, "batches") {
			cs := rapid.SliceOfN(changeGen, 0, 20).Draw(rt, "batch")
			root = mustUpdate(rt, tr, root, cs...)
			m.apply(cs)
			checkAgainstModel(rt, tr, root, m)
		}
	})
}

// Trees with different prefixes share a store without interfering, every
// node key carries the prefix, and New keeps its own copy of the prefix.
func TestPrefixIsolation(t *testing.T) {
	mem := store.NewMem()
	prefix := []byte("a/")
	ta := New(mem, prefix)
	prefix[0] = 'z' // must not affect ta
	tb := New(mem, []byte("b/"))
	ra := mustUpdate(t, ta, Empty, set("k1", "1"), set("k2", "2"), set("k3", "3"))
	rb := mustUpdate(t, tb, Empty, set("k1", "1"), set("k2", "2"))
	for _, c := range []struct {
		prefix string
		tr     *Tree
		root   Hash
	}{{"a/", ta, ra}, {"b/", tb, rb}} {
		if got, want := len(mem.Keys([]byte(c.prefix))), countNodes(t, c.tr, c.root); got != want {
			t.Fatalf("%s holds %d nodes, %d reachable from its root", c.prefix, got, want)
		}
	}
	if _, err := tb.Prove(ra, []byte("k1")); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("tree b read tree a's root: err %v, want ErrMissingNode", err)
	}
	checkAgainstModel(t, ta, ra, model{"k1": "1", "k2": "2", "k3": "3"})
	checkAgainstModel(t, tb, rb, model{"k1": "1", "k2": "2"})
}

// countNodes counts the nodes reachable from root.
func countNodes(t *testing.T, tr *Tree, root Hash) int {
	if root == Empty {
		return 0
	}
	n, err := tr.load(root)
	if err != nil {
		t.Fatal(err)
	}
	if n.kind == kindLeaf {
		return 1
	}
	return 1 + countNodes(t, tr, n.a) + countNodes(t, tr, n.b)
}

// A root that is not in the store, a missing node below the root and a
// node whose bytes were altered are reported as corruption, distinct from
// ordinary errors; store errors are passed through.
func TestStoreCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	m := randomModel(r, 20)
	tr, mem := newTree()
	root := mustUpdate(t, tr, Empty, m.changes()...)
	key := m.sortedKeys()[0]

	unknown := ValueHash([]byte("not a root"))
	if _, err := tr.Update(unknown, []store.Change{set("x", "y")}); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Update from unknown root: %v, want ErrMissingNode", err)
	}
	if _, err := tr.Prove(unknown, []byte("x")); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Prove from unknown root: %v, want ErrMissingNode", err)
	}

	// Remove the first node below the root on key's path.
	n, _ := tr.load(root)
	child, path := n.a, KeyPath([]byte(key))
	if bitAt(path[:], 0) == 1 {
		child = n.b
	}
	saved, _ := mem.Get(tr.nodeKey(child))
	mem.Delete(tr.nodeKey(child))
	if _, err := tr.Prove(root, []byte(key)); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Prove through a missing node: %v, want ErrMissingNode", err)
	}
	if _, err := tr.Update(root, []store.Change{del(key)}); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Update through a missing node: %v, want ErrMissingNode", err)
	}

	// Put back different bytes of the right size, then the wrong size.
	bad := slices.Clone(saved)
	bad[40] ^= 1
	mem.Set(tr.nodeKey(child), bad)
	if _, err := tr.Prove(root, []byte(key)); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Prove through an altered node: %v, want ErrCorruptNode", err)
	}
	mem.Set(tr.nodeKey(child), saved[:64])
	if _, err := tr.Update(root, []store.Change{del(key)}); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Update through a truncated node: %v, want ErrCorruptNode", err)
	}

	boom := errors.New("disk on fire")
	ft := New(failingStore{boom}, testPrefix)
	if _, err := ft.Prove(root, []byte(key)); !errors.Is(err, boom) {
		t.Fatalf("Prove with failing store: %v, want %v", err, boom)
	}
	if _, err := ft.Update(Empty, []store.Change{set("a", "b")}); !errors.Is(err, boom) {
		t.Fatalf("Update with failing store: %v, want %v", err, boom)
	}
}

type failingStore struct{ err error }

func (f failingStore) Get([]byte) ([]byte, error) { return nil, f.err }
func (f failingStore) Set(_, _ []byte) error      { return f.err }
func (f failingStore) Delete([]byte) error        { return f.err }
