package audit

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzLogSize is the size of the honest log FuzzVerifyInclusion checks
// claims against: sizes 0..37 cover perfect and ragged trees up to depth 6.
const fuzzLogSize = 37

// splitProof cuts b into 32-byte proof hashes; a shorter tail becomes a
// short (malformed) hash.
func splitProof(b []byte) [][]byte {
	var p [][]byte
	for len(b) > 0 {
		n := min(HashSize, len(b))
		p = append(p, b[:n])
		b = b[n:]
	}
	return p
}

func joinProof(p [][]byte) []byte { return bytes.Join(p, nil) }

// FuzzVerifyInclusion feeds arbitrary entries, indexes, sizes and proof bytes
// to VerifyInclusion. It must never panic, must reject with ErrInvalidProof,
// and, against the honest root of a tree size, must accept only the entry
// really stored at that index with its honest proof.
func FuzzVerifyInclusion(f *testing.F) {
	entries := testEntries(fuzzLogSize)
	l, _ := newTestLog(f, entries)
	roots := make([][]byte, fuzzLogSize+1)
	for s := range roots {
		roots[s] = mustRootAt(f, l, uint64(s))
	}
	// More seeds live in testdata/fuzz/FuzzVerifyInclusion.
	p, _ := l.InclusionProof(5, 13)
	f.Add(entries[5], uint64(5), uint64(13), joinProof(p))

	f.Fuzz(func(t *testing.T, entry []byte, index, size uint64, proofBytes []byte) {
		proof := splitProof(proofBytes)

		// Any size at all, against some root: no panic, only ErrInvalidProof.
		err := VerifyInclusion(entry, index, size, proof, roots[size%(fuzzLogSize+1)])
		if err != nil && !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("error does not wrap ErrInvalidProof: %v", err)
		}

		// A size of the honest log, against its root: acceptance means the
		// claim is true.
		s := size % (fuzzLogSize + 1)
		err = VerifyInclusion(entry, index, s, proof, roots[s])
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("error does not wrap ErrInvalidProof: %v", err)
			}
			return
		}
		if index >= s || !bytes.Equal(entry, entries[index]) {
			t.Fatalf("accepted entry %q at index %d of size %d", entry, index, s)
		}
		honest, err := l.InclusionProof(index, s)
		if err != nil {
			t.Fatal(err)
		}
		if !proofsEqual(proof, honest) {
			t.Fatalf("accepted a proof %x that differs from the honest one %x", proof, honest)
		}
	})
}

var writeFuzzSeeds = flag.Bool("audit.write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzVerifyInclusion")

// TestWriteFuzzSeeds regenerates the FuzzVerifyInclusion seed corpus when
// run with -audit.write-fuzz-seeds; otherwise it is skipped.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -audit.write-fuzz-seeds to regenerate the seed corpus")
	}
	entries := testEntries(fuzzLogSize)
	l, _ := newTestLog(t, entries)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyInclusion")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, entry []byte, index, size uint64, proof []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nuint64(%d)\nuint64(%d)\n[]byte(%s)\n",
			strconv.Quote(string(entry)), index, size, strconv.Quote(string(proof)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range [][2]uint64{{0, 1}, {0, 2}, {2, 3}, {6, 8}, {20, 37}, {36, 37}, {31, 32}, {0, 37}} {
		index, size := c[0], c[1]
		p, err := l.InclusionProof(index, size)
		if err != nil {
			t.Fatal(err)
		}
		blob := joinProof(p)
		write(fmt.Sprintf("valid-%d-of-%d", index, size), entries[index], index, size, blob)
		if len(blob) > 0 {
			bad := bytes.Clone(blob)
			bad[len(bad)/2] ^= 0x40
			write(fmt.Sprintf("flipped-%d-of-%d", index, size), entries[index], index, size, bad)
			write(fmt.Sprintf("truncated-%d-of-%d", index, size), entries[index], index, size, blob[:len(blob)-1])
		}
		write(fmt.Sprintf("wrong-entry-%d-of-%d", index, size), entries[(index+1)%size], index, size, blob)
		if size > 1 {
			write(fmt.Sprintf("wrong-index-%d-of-%d", index, size), entries[index], (index+1)%size, size, blob)
		}
	}
	write("empty-tree", nil, 0, 0, nil)
	write("huge-size", []byte("x"), 1<<62, 1<<63+5, bytes.Repeat([]byte{0xaa}, 64*HashSize))
	write("max-index", []byte("x"), ^uint64(0), ^uint64(0), bytes.Repeat([]byte{0x55}, 3*HashSize))
}
