package federated_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"math/bits"
	mrand "math/rand/v2"
	"testing"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/zk"
)

// sites makes n participants with fresh X25519 worker keys.
func sites(t testing.TB, n int) ([]*ecdh.PrivateKey, []federated.Peer) {
	t.Helper()
	var privs []*ecdh.PrivateKey
	var peers []federated.Peer
	for i := range n {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		privs = append(privs, k)
		peers = append(peers, federated.Peer{Site: fmt.Sprintf("site-%02d", i), Key: k.PublicKey().Bytes()})
	}
	return privs, peers
}

// TestMasksCancel is the property secure aggregation rests on: for any set
// of surviving participants (a round restarted after dropouts is just a
// smaller participant list), the value masks sum to zero mod 2⁶⁴ and the
// blindings to zero mod ℓ, while no single site's mask is zero.
func TestMasksCancel(t *testing.T) {
	privs, peers := sites(t, 10)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for trial := range 60 {
		// A random subset of at least two survivors, in the original order.
		var idx []int
		for len(idx) < 2 {
			idx = idx[:0]
			for i := range peers {
				if rng.IntN(2) == 0 {
					idx = append(idx, i)
				}
			}
		}
		var round []federated.Peer
		for _, i := range idx {
			round = append(round, peers[i])
		}
		s := federated.Session{ChainID: "test", Job: uint64(trial), Round: uint32(trial % 3), Iteration: uint32(trial % 5), Phase: federated.PhaseStep}
		n := 1 + rng.IntN(40)
		sum := make([]uint64, n)
		bsum := make([]zk.Scalar, n)
		for k, i := range idx {
			m, err := federated.PairMasks(privs[i], k, round, s, n)
			if err != nil {
				t.Fatal(err)
			}
			zero := true
			for j := range n {
				sum[j] += m.Values[j]
				bsum[j] = bsum[j].Add(m.Blindings[j])
				zero = zero && m.Values[j] == 0
			}
			if zero {
				t.Fatalf("trial %d: site %d's masks are all zero", trial, i)
			}
		}
		for j := range n {
			if sum[j] != 0 || bsum[j] != (zk.Scalar{}) {
				t.Fatalf("trial %d (%d survivors): masks do not cancel at value %d", trial, len(idx), j)
			}
		}
	}
}

// TestMasksFresh: every element of a session changes every mask, so a
// restarted round, a new iteration or the final phase never reuses one —
// reusing a mask with other values would reveal their difference.
func TestMasksFresh(t *testing.T) {
	privs, peers := sites(t, 3)
	base := federated.Session{ChainID: "test", Job: 7, Round: 1, Iteration: 4, Phase: federated.PhaseStep}
	variants := map[string]federated.Session{
		"chain": {ChainID: "other", Job: 7, Round: 1, Iteration: 4, Phase: federated.PhaseStep},
		"job":   {ChainID: "test", Job: 8, Round: 1, Iteration: 4, Phase: federated.PhaseStep},
		"round": {ChainID: "test", Job: 7, Round: 2, Iteration: 4, Phase: federated.PhaseStep},
		"iter":  {ChainID: "test", Job: 7, Round: 1, Iteration: 5, Phase: federated.PhaseStep},
		"phase": {ChainID: "test", Job: 7, Round: 1, Iteration: 4, Phase: federated.PhaseFinal},
	}
	m0, err := federated.PairMasks(privs[0], 0, peers, base, 8)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := federated.PairMasks(privs[0], 0, peers, base, 8)
	if again.Values[3] != m0.Values[3] {
		t.Fatal("the same session must give the same masks (a worker that restarts re-derives them)")
	}
	for name, s := range variants {
		m, err := federated.PairMasks(privs[0], 0, peers, s, 8)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 8 {
			if m.Values[j] == m0.Values[j] {
				t.Errorf("%s: value mask %d reused", name, j)
			}
		}
	}
	// Looks uniform: about half of all bits set.
	m, _ := federated.PairMasks(privs[1], 1, peers, base, 4096)
	ones := 0
	for _, v := range m.Values {
		ones += bits.OnesCount64(v)
	}
	if frac := float64(ones) / (64 * 4096); frac < 0.49 || frac > 0.51 {
		t.Errorf("fraction of one bits %.4f", frac)
	}
}

// TestPairMasksRefuses: a round of one (its "sum" would be its own
// values), a site named twice, a bad key.
func TestPairMasksRefuses(t *testing.T) {
	privs, peers := sites(t, 3)
	s := federated.Session{ChainID: "t", Phase: federated.PhaseStep}
	for name, tc := range map[string]struct {
		self  int
		peers []federated.Peer
	}{
		"alone":      {0, peers[:1]},
		"self range": {3, peers},
		"twice":      {0, []federated.Peer{peers[0], peers[1], peers[1]}},
		"bad key":    {0, []federated.Peer{peers[0], {Site: "x", Key: []byte{1, 2}}}},
		"zero key":   {0, []federated.Peer{peers[0], {Site: "x", Key: make([]byte, 32)}}},
	} {
		if _, err := federated.PairMasks(privs[0], tc.self, tc.peers, s, 4); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSumRecoversTotal: masked vectors, each alone uniformly random, add
// up to the sum of the values.
func TestSumRecoversTotal(t *testing.T) {
	privs, peers := sites(t, 4)
	s := federated.Session{ChainID: "t", Job: 1, Phase: federated.PhaseStep}
	values := [][]int64{{5, -3, 1 << 40}, {7, 0, -(1 << 41)}, {-2, 9, 3}, {0, 0, 0}}
	var masked [][]uint64
	for i := range peers {
		m, err := federated.PairMasks(privs[i], i, peers, s, 3)
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.Apply(values[i])
		if err != nil {
			t.Fatal(err)
		}
		if int64(v[0]) == values[i][0] {
			t.Fatalf("site %d: masked value equals the value", i)
		}
		masked = append(masked, v)
	}
	sum, err := federated.Sum(masked)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{10, 6, (1 << 40) - (1 << 41) + 3}
	for j := range want {
		if sum[j] != want[j] {
			t.Fatalf("sum[%d] = %d, want %d", j, sum[j], want[j])
		}
	}
}

func BenchmarkPairMasks(b *testing.B) {
	for _, n := range []int{3, 10} {
		privs, peers := sites(b, n)
		s := federated.Session{ChainID: "bench", Job: 1, Phase: federated.PhaseStep}
		b.Run(fmt.Sprintf("sites=%d/values=%d", n, federated.StepLen(21)), func(b *testing.B) {
			for b.Loop() {
				if _, err := federated.PairMasks(privs[0], 0, peers, s, federated.StepLen(21)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
