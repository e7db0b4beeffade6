package device_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/device"
)

// Every reading of an anchor proves against its root; a changed reading, a
// changed proof or another anchor's root does not.
func TestAnchorInclusion(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1000} {
		signed := make([]device.Signed, n)
		leaves := make([][32]byte, n)
		for i := range signed {
			r := reading(uint64(i + 1))
			r.Value = float64(100 + i%50)
			signed[i] = device.Sign(r, key)
			leaves[i] = signed[i].LeafHash()
		}
		tree, err := device.NewTree(leaves)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		for range 20 {
			i := rng.IntN(n)
			p, err := tree.Prove(uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if err := device.VerifyInclusion(&signed[i], p, tree.Root()); err != nil {
				t.Fatalf("%d leaves, leaf %d: %v", n, i, err)
			}
			tampered := signed[i]
			tampered.Value++
			if err := device.VerifyInclusion(&tampered, p, tree.Root()); !errors.Is(err, device.ErrNotIncluded) {
				t.Fatalf("%d leaves: a changed reading proves: %v", n, err)
			}
			other := tree.Root()
			other[0] ^= 1
			if err := device.VerifyInclusion(&signed[i], p, other); err == nil {
				t.Fatalf("%d leaves: proves against another root", n)
			}
			if len(p.Hashes) > 0 {
				bad := *p
				bad.Hashes = append([][]byte{}, p.Hashes...)
				bad.Hashes[0] = append([]byte{}, bad.Hashes[0]...)
				bad.Hashes[0][5] ^= 1
				if err := device.VerifyInclusion(&signed[i], &bad, tree.Root()); err == nil {
					t.Fatalf("%d leaves: a changed proof verifies", n)
				}
			}
		}
	}
	if _, err := device.NewTree(nil); err == nil {
		t.Fatal("an empty anchor was built")
	}
}
