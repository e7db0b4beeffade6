package overlap

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"testing"
)

// Beyond the pseudonyms (overlap_test.go), the file must not hold the
// sketch keys themselves: they are encrypted, so even someone who learns
// the sketch subkey cannot read a history without the file subkey.
func TestFileHoldsNoSketchKeys(t *testing.T) {
	var key [32]byte
	key[0] = 1
	st, err := Open(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]string, 300)
	for i := range ps {
		ps[i] = "patient-" + strconv.Itoa(i)
	}
	sk := st.Sketch(slices.Values(ps))
	if err := st.CheckAndRecord("ds", "job-1", sk, 10); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(st.Path("ds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range sk.keys {
		if bytes.Contains(data, binary.LittleEndian.AppendUint64(nil, x)) || bytes.Contains(data, binary.BigEndian.AppendUint64(nil, x)) {
			t.Fatalf("the history file holds sketch key %016x in the clear", x)
		}
	}
	if bytes.Contains(data, []byte("job-1")) {
		t.Fatal("the history file holds a label in the clear")
	}
}

// The sketch subkey is derived, not the secret itself, and differs per
// secret.
func TestSketchKeyIsDerived(t *testing.T) {
	var k1, k2 [32]byte
	k1[0], k2[0] = 1, 2
	s1, err := Open(t.TempDir(), k1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.TempDir(), k2)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.sketchKey) != 32 || bytes.Equal(s1.sketchKey, k1[:]) || bytes.Equal(s1.sketchKey, s2.sketchKey) {
		t.Fatal("sketch key not derived from the secret")
	}
}
