package zk

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzProofDecode: decoding never panics, refuses with ErrInvalidProof,
// and whatever it accepts re-encodes to exactly the same bytes (no two
// encodings of one proof, so proofs cannot be malleated on the wire).
// Accepted proofs of the one-feature shape are also run through Verify,
// which must not panic either.
func FuzzProofDecode(f *testing.F) {
	fx := newFixture(f, 1, 99)
	f.Add(fx.enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		var pf Proof
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
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", data, again)
		}
		if len(data) == fx.params.ProofSize() {
			err := Verify(fx.params, fx.c, fx.x, fx.b, fx.ctx, &pf)
			if err != nil && !errors.Is(err, ErrInvalidProof) {
				t.Fatal(err)
			}
			if err == nil && !bytes.Equal(data, fx.enc) {
				t.Fatal("a different encoding verified")
			}
		}
	})
}
