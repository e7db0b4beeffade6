package zk

import (
	"fmt"
	"runtime"
	"sync"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// Generators of the bounds proofs. They come from the same hash-to-group
// scheme as every other generator of the package (hashToGenerator, DST
// GeneratorDST) under labels of their own, so the prediction proof's
// generators, Params and digests are untouched:
//
//	bounds.g, i and bounds.h, i  (0 ≤ i < N) the Bulletproofs vectors
//	bounds.U, 0                  the inner-product base
//
// The value and blinding bases are the package's B and H, the bases of
// CommitValue. The vectors are derived lazily, up to the longest padded
// length a proof has needed so far, and kept (in affine Niels form, 120
// bytes a point) for the life of the process: MaxBoundsValues values need
// N = 65536, i.e. 131072 points, 15 MB, derived in ≈2.8 s of CPU spread
// over every core. m ≤ 64 values need N ≤ 8192 (16384 points, 2 MB,
// ≈0.45 s).
const (
	boundsLabelG = "bounds.g"
	boundsLabelH = "bounds.h"
	boundsLabelU = "bounds.U"

	// boundsGeneratorScheme is what the transcript absorbs as
	// "generators": the derivation rule and labels, which fix every point.
	boundsGeneratorScheme = "hash_to_ristretto255(label || 0x00 || uint32be(i)), DST " + GeneratorDST +
		"; value base B, blinding base H; vectors bounds.g, bounds.h; inner-product base bounds.U"
)

// boundsGenStore holds the bounds generators. g and h only ever grow (by
// appending freshly derived points) and existing entries never change, so
// a slice handed out stays valid while later calls grow the store.
var boundsGenStore struct {
	mu   sync.Mutex // guards g and h
	grow sync.Mutex // held while deriving, so readers of what exists need not wait
	g, h []ed.NielsPoint
	u    ed.NielsPoint
}

var boundsUOnce sync.Once

func boundsU() *ed.NielsPoint {
	boundsUOnce.Do(func() {
		p := hashToGenerator(boundsLabelU, 0)
		var n [1]ed.NielsPoint
		toNiels(n[:], []ed.ExtendedPoint{p})
		boundsGenStore.u = n[0]
	})
	return &boundsGenStore.u
}

// boundsGenerators returns g_0..g_{n−1} and h_0..h_{n−1} (n ≤
// maxBoundsLen), deriving whatever is missing. Safe for concurrent use.
func boundsGenerators(n int) (g, h []ed.NielsPoint) {
	if n < 0 || n > maxBoundsLen {
		panic(fmt.Sprintf("zk: %d bounds generators requested, cap %d", n, maxBoundsLen))
	}
	initStore()
	boundsU()
	s := &boundsGenStore
	have := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.g)
	}
	if have() < n {
		s.grow.Lock()
		if k := have(); k < n {
			dg, dh := deriveNiels(boundsLabelG, k, n), deriveNiels(boundsLabelH, k, n)
			s.mu.Lock()
			s.g, s.h = append(s.g, dg...), append(s.h, dh...)
			s.mu.Unlock()
		}
		s.grow.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.g[:n:n], s.h[:n:n]
}

// deriveNiels hashes indices [from, to) of label to the group, on every
// core (the result does not depend on how the work is split).
func deriveNiels(label string, from, to int) []ed.NielsPoint {
	out := make([]ed.NielsPoint, to-from)
	workers := min(runtime.GOMAXPROCS(0), (to-from+255)/256)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo := (to - from) * w / workers
		hi := (to - from) * (w + 1) / workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			const batch = 256 // points per shared field inversion
			ext := make([]ed.ExtendedPoint, batch)
			for i := lo; i < hi; i += batch {
				k := min(batch, hi-i)
				for j := 0; j < k; j++ {
					ext[j] = hashToGenerator(label, uint32(from+i+j))
				}
				toNiels(out[i:i+k], ext[:k])
			}
		}()
	}
	wg.Wait()
	return out
}

// inv2 is 1/2 in the field, for nielsToExtended.
var inv2 = func() ed.FieldElement {
	var two, inv ed.FieldElement
	two.SetOne()
	two.Add(&two, &two)
	inv.Inverse(&two)
	return inv
}()

// nielsToExtended recovers the extended coordinates of an affine Niels
// point: x = ((y+x) − (y−x))/2, y = ((y+x) + (y−x))/2, Z = 1, T = xy.
func nielsToExtended(out *ed.ExtendedPoint, n *ed.NielsPoint) {
	out.X.Sub(&n.YPlusX, &n.YMinusX)
	out.X.Mul(&out.X, &inv2)
	out.Y.Add(&n.YPlusX, &n.YMinusX)
	out.Y.Mul(&out.Y, &inv2)
	out.Z.SetOne()
	out.T.Mul(&out.X, &out.Y)
}

// PrepareBoundsGenerators derives, ahead of time, the generators that
// bounds proofs of up to maxValues values need (1 ≤ maxValues ≤
// MaxBoundsValues), so that the first ProveBounds or VerifyBounds does not
// pay for them: a node can call it at start-up with the largest vector its
// studies use. Otherwise they are derived on first use.
func PrepareBoundsGenerators(maxValues int) error {
	if maxValues < 1 || maxValues > MaxBoundsValues {
		return fmt.Errorf("%w: %d values, want 1..%d", ErrDimension, maxValues, MaxBoundsValues)
	}
	boundsGenerators(boundsPaddedLen(maxValues))
	return nil
}
