package device_test

import (
	"crypto/ed25519"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/device"
)

// A batch verifies each reading as Verify does: all valid, or with
// tampered readings, a wrong key, a malformed key or signature anywhere in
// the batch, the same verdict per reading.
func TestVerifyBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 64, 200} {
		keys := make([]ed25519.PublicKey, n)
		readings := make([]*device.Signed, n)
		for i := range n {
			seed := make([]byte, 32)
			binary.BigEndian.PutUint64(seed, uint64(n*1000+i))
			priv := ed25519.NewKeyFromSeed(seed)
			keys[i] = priv.Public().(ed25519.PublicKey)
			s := device.Sign(device.Reading{Device: "dev-1", Seq: uint64(i + 1), Time: 1_700_000_000_000, Code: "8867-4", Value: 60 + float64(i), Unit: "/min"}, priv)
			readings[i] = &s
		}
		for i, ok := range device.VerifyBatch(keys, readings) {
			if !ok {
				t.Fatalf("n=%d: valid reading %d refused", n, i)
			}
		}
		// Spoil some: a changed value, another key, a flipped signature
		// byte, a short key.
		for range 1 + n/10 {
			i := rng.IntN(n)
			switch rng.IntN(4) {
			case 0:
				readings[i].Value++
			case 1:
				keys[i] = keys[(i+1)%n]
			case 2:
				readings[i].Sig = append([]byte(nil), readings[i].Sig...)
				readings[i].Sig[rng.IntN(64)] ^= 1 << rng.IntN(8)
			case 3:
				keys[i] = keys[i][:31]
			}
		}
		got := device.VerifyBatch(keys, readings)
		for i := range n {
			if want := readings[i].Verify(keys[i]); got[i] != want {
				t.Fatalf("n=%d reading %d: batch says %v, alone %v", n, i, got[i], want)
			}
		}
	}
}

// Honest signatures verify under this package's rule as under Go's
// crypto/ed25519.
func TestVerifyAgreesWithStdlib(t *testing.T) {
	for i := range 50 {
		seed := make([]byte, 32)
		seed[0] = byte(i)
		priv := ed25519.NewKeyFromSeed(seed)
		s := device.Sign(device.Reading{Device: "dev-2", Seq: uint64(i + 1), Time: 1_700_000_000_000, Code: "8480-6", Value: 120, Unit: "mm[Hg]"}, priv)
		pub := priv.Public().(ed25519.PublicKey)
		if s.Verify(pub) != ed25519.Verify(pub, s.Canonical(), s.Sig) || !s.Verify(pub) {
			t.Fatalf("reading %d: the rules disagree", i)
		}
	}
}
