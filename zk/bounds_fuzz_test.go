package zk

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzBoundsProofUnmarshal: decoding never panics, refuses with
// ErrInvalidProof, and whatever it accepts re-encodes to exactly the same
// bytes. Accepted proofs of the fixture's shape (two values) go through
// VerifyBounds, which must not panic and must refuse anything but the
// fixture's own proof.
func FuzzBoundsProofUnmarshal(f *testing.F) {
	c := newBoundsCase(f, "fuzz", []int64{-3, 1 << 45}, []Interval{{-10, 10}, {0, 1 << 50}})
	f.Add(c.enc)
	f.Add(c.enc[:len(c.enc)-32])
	f.Add(append([]byte{boundsProofTag}, make([]byte, BoundsProofSize(1)-1)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pf BoundsProof
		if err := pf.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("decode error %v does not wrap ErrInvalidProof", err)
			}
			return
		}
		again, err := pf.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) || pf.Size() != len(data) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", data, again)
		}
		err = VerifyBounds(c.ctx, c.commitments, c.bounds, &pf)
		if err != nil && !errors.Is(err, ErrInvalidProof) {
			t.Fatal(err)
		}
		if err == nil && !bytes.Equal(data, c.enc) {
			t.Fatal("a different encoding verified")
		}
	})
}
