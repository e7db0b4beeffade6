// Package bech32 encodes bech32 strings (BIP-173), the text form of age
// keys ("age1…" recipients, "AGE-SECRET-KEY-1…" identities).
//
// age keeps its own bech32 code internal and only parses strings, while
// medchain holds X25519 keys as raw 32-byte values (accounts publish them
// that way on the ledger). Encoding is all that is needed to hand such a key
// to age's parsers, which then check the checksum again.
package bech32

import (
	"errors"
	"strings"
)

const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var generator = [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}

func polymod(values []byte) uint32 {
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i, g := range generator {
			if (top>>uint(i))&1 == 1 {
				chk ^= g
			}
		}
	}
	return chk
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

// Encode5 encodes 5-bit groups (each < 32) under the human-readable part
// hrp, lower case, with the BIP-173 checksum.
func Encode5(hrp string, data []byte) (string, error) {
	if hrp == "" {
		return "", errors.New("bech32: empty human-readable part")
	}
	for i := 0; i < len(hrp); i++ {
		if hrp[i] < 33 || hrp[i] > 126 {
			return "", errors.New("bech32: human-readable part has a character out of range")
		}
	}
	if strings.ToLower(hrp) != hrp {
		return "", errors.New("bech32: human-readable part must be lower case (upper-case the whole string instead)")
	}
	for _, v := range data {
		if v > 31 {
			return "", errors.New("bech32: data value out of range")
		}
	}
	values := append(hrpExpand(hrp), data...)
	mod := polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var b strings.Builder
	b.Grow(len(hrp) + 1 + len(data) + 6)
	b.WriteString(hrp)
	b.WriteByte('1')
	for _, v := range data {
		b.WriteByte(charset[v])
	}
	for i := 0; i < 6; i++ {
		b.WriteByte(charset[(mod>>uint(5*(5-i)))&31])
	}
	return b.String(), nil
}

// Encode encodes bytes under hrp: the bytes are regrouped into 5-bit values
// (the last group zero-padded) and encoded with Encode5.
func Encode(hrp string, data []byte) (string, error) {
	return Encode5(hrp, toFiveBits(data))
}

// toFiveBits regroups 8-bit bytes as 5-bit values, padding the last one
// with zero bits (BIP-173's convertbits(data, 8, 5, pad=True)).
func toFiveBits(data []byte) []byte {
	out := make([]byte, 0, (len(data)*8+4)/5)
	var acc uint32
	var bits uint
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(5-bits))&31)
	}
	return out
}
