package smt

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/medchain/medchain/store"
)

// Test helpers: a reference model of the tree, a structural checker, a
// counting store, and small constructors.

var testPrefix = []byte("n/")

// tb is the part of testing.TB the helpers need; *rapid.T has it too.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func set(k, v string) store.Change { return store.Change{Key: []byte(k), Value: []byte(v)} }
func del(k string) store.Change    { return store.Change{Key: []byte(k)} }

func newTree() (*Tree, *store.Mem) {
	m := store.NewMem()
	return New(m, testPrefix), m
}

func mustUpdate(t tb, tr *Tree, root Hash, changes ...store.Change) Hash {
	t.Helper()
	r, err := tr.Update(root, changes)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return r
}

func mustProve(t tb, tr *Tree, root Hash, key string) *Proof {
	t.Helper()
	p, err := tr.Prove(root, []byte(key))
	if err != nil {
		t.Fatalf("Prove(%q): %v", key, err)
	}
	return p
}

// model is the plain map the tree is supposed to commit to.
type model map[string]string

func (m model) apply(changes []store.Change) {
	for _, c := range changes {
		if c.Value == nil {
			delete(m, string(c.Key))
		} else {
			m[string(c.Key)] = string(c.Value)
		}
	}
}

func (m model) clone() model {
	out := make(model, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (m model) sortedKeys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// changes returns m as a batch of sets, in key order.
func (m model) changes() []store.Change {
	var out []store.Change
	for _, k := range m.sortedKeys() {
		out = append(out, set(k, m[k]))
	}
	return out
}

// refRoot computes the canonical root of m straight from the definition, with
// no store and no incremental logic: no leaves is Empty, one leaf is that
// leaf's hash, and two or more leaves make an internal node whose children
// are the leaves split by the next path bit.
func refRoot(m model) Hash {
	type leaf struct{ path, hash Hash }
	var leaves []leaf
	for k, v := range m {
		p := KeyPath([]byte(k))
		leaves = append(leaves, leaf{p, LeafHash(p, ValueHash([]byte(v)))})
	}
	var subtree func(depth int, ls []leaf) Hash
	subtree = func(depth int, ls []leaf) Hash {
		switch len(ls) {
		case 0:
			return Empty
		case 1:
			return ls[0].hash
		}
		var left, right []leaf
		for _, l := range ls {
			if bitAt(l.path[:], depth) == 0 {
				left = append(left, l)
			} else {
				right = append(right, l)
			}
		}
		return internalHash(subtree(depth+1, left), subtree(depth+1, right))
	}
	return subtree(0, leaves)
}

// checkCanonical walks the stored tree under root and fails the test unless
// it is in canonical form: every node present and well formed, every leaf on
// its own path, every internal node above at least two leaves. It returns
// the leaf paths it found.
func checkCanonical(t tb, tr *Tree, root Hash) []Hash {
	t.Helper()
	var walk func(h Hash, depth int) []Hash
	walk = func(h Hash, depth int) []Hash {
		if h == Empty {
			return nil
		}
		n, err := tr.load(h)
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if n.kind == kindLeaf {
			return []Hash{n.a}
		}
		left, right := walk(n.a, depth+1), walk(n.b, depth+1)
		for _, p := range left {
			if bitAt(p[:], depth) != 0 {
				t.Fatalf("leaf %s is left of depth %d but its bit is 1", p, depth)
			}
		}
		for _, p := range right {
			if bitAt(p[:], depth) != 1 {
				t.Fatalf("leaf %s is right of depth %d but its bit is 0", p, depth)
			}
		}
		if len(left)+len(right) < 2 {
			t.Fatalf("internal node %s at depth %d has %d leaves beneath it", h, depth, len(left)+len(right))
		}
		return append(left, right...)
	}
	return walk(root, 0)
}

// checkAgainstModel asserts root is the canonical root of m.
func checkAgainstModel(t tb, tr *Tree, root Hash, m model) {
	t.Helper()
	if want := refRoot(m); root != want {
		t.Fatalf("root %s, reference model says %s (%d keys)", root, want, len(m))
	}
	if got := len(checkCanonical(t, tr, root)); got != len(m) {
		t.Fatalf("tree has %d leaves, model %d", got, len(m))
	}
}

// randomModel returns n distinct keys with random values.
func randomModel(r *rand.Rand, n int) model {
	m := make(model, n)
	for len(m) < n {
		m[fmt.Sprintf("key-%d", r.Uint32())] = fmt.Sprintf("value-%d", r.Uint64())
	}
	return m
}

func shuffled(r *rand.Rand, cs []store.Change) []store.Change {
	out := slices.Clone(cs)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// countingStore counts reads and writes going through to the store.
type countingStore struct {
	store.ReadWriter
	gets, sets int
}

func (c *countingStore) Get(k []byte) ([]byte, error) {
	c.gets++
	return c.ReadWriter.Get(k)
}

func (c *countingStore) Set(k, v []byte) error {
	c.sets++
	return c.ReadWriter.Set(k, v)
}

// cloneProof deep-copies p so a test can tamper with the copy.
func cloneProof(p *Proof) *Proof {
	q := &Proof{Depth: p.Depth, Bitmap: slices.Clone(p.Bitmap), Siblings: slices.Clone(p.Siblings)}
	if p.Leaf != nil {
		l := *p.Leaf
		q.Leaf = &l
	}
	return q
}

func commonPrefixLen(a, b Hash) int {
	for i := 0; i < maxDepth; i++ {
		if bitAt(a[:], i) != bitAt(b[:], i) {
			return i
		}
	}
	return maxDepth
}
