package smt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// fuzzContents is the fixed tree the fuzz targets verify against. Keys were
// chosen to give both shallow and deeper leaves and both kinds of absence.
var fuzzContents = model{
	"alice": "1", "bob": "2", "carol": "3", "dave": "4",
	"erin": "5", "frank": "6", "grace": "", "heidi": "8",
	"ivan": "9", "judy": "10", "mike": "11", "olivia": "12",
}

// fuzzFixture builds the tree and picks keys absent from it for seed
// absence proofs: the empty key, and the first three keys "absent-N" whose
// proofs end in an empty subtree and three whose proofs end in another leaf.
func fuzzFixture(f tb) (tr *Tree, root Hash, absent []string) {
	tr, _ = newTree()
	root = mustUpdate(f, tr, Empty, fuzzContents.changes()...)
	absent = []string{""}
	var emptyEnd, leafEnd int
	for i := 0; emptyEnd < 3 || leafEnd < 3; i++ {
		if i == 1000 {
			f.Fatalf("fixture lacks absence proofs of one kind: %d end empty, %d in a leaf", emptyEnd, leafEnd)
		}
		k := fmt.Sprintf("absent-%d", i)
		if mustProve(f, tr, root, k).Leaf == nil {
			if emptyEnd++; emptyEnd > 3 {
				continue
			}
		} else if leafEnd++; leafEnd > 3 {
			continue
		}
		absent = append(absent, k)
	}
	return tr, root, absent
}

// checkFuzzClaim fails unless err is nil exactly when the claim "key has
// value" (value == nil: "key is absent") is not true of fuzzContents, i.e.
// it fails if a false claim is accepted; and every rejection must wrap
// ErrInvalidProof.
func checkFuzzClaim(t *testing.T, err error, key, value []byte) {
	if err != nil {
		if !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("rejection does not wrap ErrInvalidProof: %v", err)
		}
		return
	}
	got, present := fuzzContents[string(key)]
	switch {
	case value == nil && present:
		t.Fatalf("accepted absence of %q, which has value %q", key, got)
	case value != nil && (!present || got != string(value)):
		t.Fatalf("accepted %q = %q, tree has %q (present %v)", key, value, got, present)
	}
}

// seedProofs returns a real proof for key in each encoding, with the claim.
func seedProofs(f *testing.F, tr *Tree, root Hash, key string) (js, bin []byte) {
	p := mustProve(f, tr, root, key)
	js, err := json.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	bin, err = p.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	return js, bin
}

// FuzzProofVerify decodes arbitrary JSON as a proof and verifies it against
// a fixed tree, for arbitrary claims (absent == true claims key is absent,
// otherwise that it has value). Verify must never panic, never accept a
// false claim, and wrap ErrInvalidProof in every rejection.
func FuzzProofVerify(f *testing.F) {
	tr, root, fuzzAbsent := fuzzFixture(f)
	for _, k := range fuzzContents.sortedKeys() {
		js, _ := seedProofs(f, tr, root, k)
		f.Add(js, []byte(k), []byte(fuzzContents[k]), false)
		f.Add(js, []byte(k), []byte(fuzzContents[k]), true)
	}
	for _, k := range fuzzAbsent {
		js, _ := seedProofs(f, tr, root, k)
		f.Add(js, []byte(k), []byte{}, true)
	}
	f.Fuzz(func(t *testing.T, proofJSON, key, value []byte, absent bool) {
		var p Proof
		if json.Unmarshal(proofJSON, &p) != nil {
			return
		}
		if absent {
			value = nil
		} else if value == nil {
			value = []byte{} // the fuzzer may pass nil for an empty value
		}
		err := p.Verify(root, key, value)
		checkFuzzClaim(t, err, key, value)
		_ = p.Size()
		if err == nil {
			// An accepted proof is well formed, so it encodes, and the
			// encoding decodes to a proof that is accepted too.
			bin, err := p.MarshalBinary()
			if err != nil {
				t.Fatalf("accepted proof does not encode: %v", err)
			}
			var q Proof
			if err := q.UnmarshalBinary(bin); err != nil {
				t.Fatalf("encoding of accepted proof does not decode: %v", err)
			}
			if err := q.Verify(root, key, value); err != nil {
				t.Fatalf("decoded accepted proof rejected: %v", err)
			}
		}
	})
}

// FuzzProofUnmarshalBinary does the same for the binary encoding, which must
// also be canonical: whatever decodes re-encodes to the same bytes.
func FuzzProofUnmarshalBinary(f *testing.F) {
	tr, root, fuzzAbsent := fuzzFixture(f)
	for _, k := range fuzzContents.sortedKeys() {
		_, bin := seedProofs(f, tr, root, k)
		f.Add(bin, []byte(k), []byte(fuzzContents[k]), false)
	}
	for _, k := range fuzzAbsent {
		_, bin := seedProofs(f, tr, root, k)
		f.Add(bin, []byte(k), []byte{}, true)
	}
	f.Fuzz(func(t *testing.T, data, key, value []byte, absent bool) {
		var p Proof
		if err := p.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("decode error does not wrap ErrInvalidProof: %v", err)
			}
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded %x, re-encoded %x (err %v)", data, again, err)
		}
		if p.Size() != len(data) {
			t.Fatalf("Size %d for %d bytes", p.Size(), len(data))
		}
		if absent {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		checkFuzzClaim(t, p.Verify(root, key, value), key, value)
	})
}

// TestFuzzSeedsAreMeaningful makes sure the fixture exercises what the fuzz
// targets are about: deeper proofs and both kinds of absence proof.
func TestFuzzSeedsAreMeaningful(t *testing.T) {
	tr, root, fuzzAbsent := fuzzFixture(t)
	var deepest, emptyEnd, leafEnd int
	for _, k := range fuzzContents.sortedKeys() {
		deepest = max(deepest, mustProve(t, tr, root, k).Depth)
	}
	for _, k := range fuzzAbsent {
		if mustProve(t, tr, root, k).Leaf == nil {
			emptyEnd++
		} else {
			leafEnd++
		}
	}
	if deepest < 3 || emptyEnd == 0 || leafEnd == 0 {
		t.Fatalf("fixture too simple: max depth %d, absence proofs ending empty %d, in a leaf %d", deepest, emptyEnd, leafEnd)
	}
	t.Logf("fixture: max depth %d, absence proofs ending empty %d, in a leaf %d", deepest, emptyEnd, leafEnd)
}
