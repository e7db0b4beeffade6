package smt

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/store"
)

const benchKeys = 100_000

func benchKey(i int) []byte { return fmt.Appendf(nil, "s/account/%08d", i) }

func benchValue(r *rand.Rand) []byte {
	v := make([]byte, 64)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// benchTree returns a tree of benchKeys keys in a store.Mem (behind the
// counting wrapper, for nodes-written figures) and the values it holds.
func benchTree(b *testing.B) (*Tree, *countingStore, Hash, [][]byte, *rand.Rand) {
	r := rand.New(rand.NewPCG(21, 22))
	cs := &countingStore{ReadWriter: store.NewMem()}
	tr := New(cs, testPrefix)
	changes := make([]store.Change, benchKeys)
	values := make([][]byte, benchKeys)
	for i := range changes {
		values[i] = benchValue(r)
		changes[i] = store.Change{Key: benchKey(i), Value: values[i]}
	}
	root, err := tr.Update(Empty, changes)
	if err != nil {
		b.Fatal(err)
	}
	return tr, cs, root, values, r
}

// BenchmarkUpdate applies blocks of 100 changes (90 overwrites of existing
// keys with fresh values, 10 new keys) to a tree of 100k keys. Blocks are
// made as the benchmark goes, so every block really changes 100 leaves;
// making one costs a few microseconds.
func BenchmarkUpdate(b *testing.B) {
	tr, cs, root, _, r := benchTree(b)
	next := benchKeys
	block := make([]store.Change, 100)
	cs.sets = 0
	n := 0
	for b.Loop() {
		for j := range block {
			k := r.IntN(next)
			if j >= 90 {
				k, next = next, next+1
			}
			// A counter in the value guarantees it differs from the old one.
			block[j] = store.Change{Key: benchKey(k), Value: fmt.Appendf(nil, "value %d/%d", n, j)}
		}
		var err error
		if root, err = tr.Update(root, block); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cs.sets)/float64(n), "nodes-written/op")
}

// BenchmarkProve proves random present keys in a tree of 100k keys.
func BenchmarkProve(b *testing.B) {
	tr, _, root, _, r := benchTree(b)
	size, n := 0, 0
	for b.Loop() {
		p, err := tr.Prove(root, benchKey(r.IntN(benchKeys)))
		if err != nil {
			b.Fatal(err)
		}
		size += p.Size()
		n++
	}
	b.ReportMetric(float64(size)/float64(n), "proof-bytes")
}

// BenchmarkVerify verifies proofs from a tree of 100k keys, about half of
// them membership and half absence proofs.
func BenchmarkVerify(b *testing.B) {
	tr, _, root, values, r := benchTree(b)
	type item struct {
		key, value []byte
		proof      *Proof
	}
	items := make([]item, 1024)
	size := 0
	for i := range items {
		k := r.IntN(2 * benchKeys) // keys at or past benchKeys are absent
		items[i].key = benchKey(k)
		if k < benchKeys {
			items[i].value = values[k]
		}
		p, err := tr.Prove(root, items[i].key)
		if err != nil {
			b.Fatal(err)
		}
		items[i].proof = p
		size += p.Size()
	}
	n := 0
	for b.Loop() {
		it := items[n%len(items)]
		if err := it.proof.Verify(root, it.key, it.value); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(size)/float64(len(items)), "proof-bytes")
}
