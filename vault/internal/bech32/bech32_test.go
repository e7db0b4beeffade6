package bech32

import (
	"encoding/hex"
	"strings"
	"testing"
)

// decode5 splits a valid bech32 string into its human-readable part and
// 5-bit data values, without the checksum: just enough to feed BIP-173's
// published strings back to the encoder.
func decode5(t *testing.T, s string) (string, []byte) {
	t.Helper()
	s = strings.ToLower(s)
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		t.Fatalf("%q: no separator or checksum", s)
	}
	var data []byte
	for _, c := range s[pos+1 : len(s)-6] {
		i := strings.IndexRune(charset, c)
		if i < 0 {
			t.Fatalf("%q: %q is not a bech32 character", s, c)
		}
		data = append(data, byte(i))
	}
	return s[:pos], data
}

// The valid checksums of BIP-173: re-encoding the data part must
// reproduce each string exactly (in lower case).
func TestBIP173ValidChecksums(t *testing.T) {
	for _, s := range []string{
		"A12UEL5L",
		"a12uel5l",
		"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
		"?1ezyfcl",
	} {
		hrp, data := decode5(t, s)
		got, err := Encode5(hrp, data)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got != strings.ToLower(s) {
			t.Errorf("Encode5(%q, …) = %q, want %q", hrp, got, strings.ToLower(s))
		}
	}
}

// BIP-173's segwit addresses exercise the 8-to-5-bit regrouping: witness
// version 0 followed by the program bytes.
func TestBIP173Addresses(t *testing.T) {
	for _, c := range []struct{ addr, program string }{
		{"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
	} {
		prog, _ := hex.DecodeString(c.program)
		want := strings.ToLower(c.addr)
		hrp := want[:2]
		got, err := Encode5(hrp, append([]byte{0}, toFiveBits(prog)...))
		if err != nil || got != want {
			t.Errorf("address of %s = %q, %v; want %q", c.program, got, err, want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, c := range []struct {
		hrp  string
		data []byte
	}{
		{"", nil},
		{"AGE", nil},
		{"a b", nil},
		{"age", []byte{32}},
	} {
		if s, err := Encode5(c.hrp, c.data); err == nil {
			t.Errorf("Encode5(%q, %v) = %q, want an error", c.hrp, c.data, s)
		}
	}
}
