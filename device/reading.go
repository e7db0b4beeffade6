// Package device is the pure core of medical-device (IoMT) ingestion: the
// reading a device signs, its canonical encoding, ed25519 signing and
// verification, and the checks a reading must pass before anything of it
// is stored — known and active device, good signature, a sequence number
// not seen before and not too far behind, a time inside the acceptance
// window, a code the device is registered for, and a plausible value by
// the normalize package's ranges. A refusal is a Reason code the device
// can be told; it never carries the value.
//
// Nothing here reads a clock, a disk or a network: the caller passes the
// time, the device's registration and its replay window.
package device

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/medchain/medchain/vocab"
)

// Reading is one measurement as its device signed it.
type Reading struct {
	Device string  `json:"device"` // the device's id on the ledger (vocab.IsID)
	Seq    uint64  `json:"seq"`    // per device, increasing; 0 is not a sequence number
	Time   int64   `json:"time"`   // when measured: Unix time in milliseconds, UTC
	Code   string  `json:"code"`   // LOINC code of what was measured
	Value  float64 `json:"value"`  // in Unit
	Unit   string  `json:"unit"`   // UCUM unit
}

// Signed is a reading with its device's ed25519 signature over
// Reading.Canonical.
type Signed struct {
	Reading
	Sig []byte `json:"sig"` // 64 bytes; base64 in JSON
}

// domain separates reading signatures from every other use of a device
// key; it starts the canonical encoding.
const domain = "medchain/device/reading/v1"

// Limits on the strings of a reading, so that a canonical encoding is
// small and bounded.
const (
	maxCode = 32
	maxUnit = 32
)

// Canonical is the byte string a device signs: the domain tag, then the
// device, the sequence number, the time, the code, the value (IEEE 754
// binary64 bits) and the unit, each string length-prefixed and each number
// big-endian, so that no two readings encode alike.
func (r *Reading) Canonical() []byte {
	return r.AppendCanonical(make([]byte, 0, 64+len(r.Device)+len(r.Code)+len(r.Unit)))
}

// AppendCanonical appends the canonical encoding to b.
func (r *Reading) AppendCanonical(b []byte) []byte {
	b = appendLP(b, domain)
	b = appendLP(b, r.Device)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
	b = appendLP(b, r.Code)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Value))
	return appendLP(b, r.Unit)
}

func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Sign signs a reading with the device's private key.
func Sign(r Reading, key ed25519.PrivateKey) Signed {
	return Signed{Reading: r, Sig: ed25519.Sign(key, r.Canonical())}
}

// LeafHash is the reading's leaf in the anchor's Merkle tree (RFC 6962:
// SHA-256 of 0x00 and the leaf). The leaf is the canonical encoding and
// the signature: the signature, which only the device can make, keeps a
// root over few readings from being searched for their values.
func (s *Signed) LeafHash() [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(s.Canonical())
	h.Write(s.Sig)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// wellFormed checks what can be checked of a reading alone: the syntax of
// its fields. The problem names the field, never its value.
func (s *Signed) wellFormed() (field string, ok bool) {
	switch {
	case !vocab.IsID(s.Device):
		return "device", false
	case s.Seq == 0:
		return "seq", false
	case s.Time <= 0:
		return "time", false
	case s.Code == "" || len(s.Code) > maxCode:
		return "code", false
	case math.IsNaN(s.Value) || math.IsInf(s.Value, 0):
		return "value", false
	case s.Unit == "" || len(s.Unit) > maxUnit:
		return "unit", false
	case len(s.Sig) != ed25519.SignatureSize:
		return "sig", false
	}
	return "", true
}

// Decode parses a signed reading from its JSON form. A malformed message
// is a *Rejection with reason Malformed naming the field; the error never
// quotes the input.
func Decode(msg []byte) (Signed, error) {
	var s Signed
	if err := json.Unmarshal(msg, &s); err != nil {
		return Signed{}, &Rejection{Reason: Malformed, Field: jsonField(err)}
	}
	if f, ok := s.wellFormed(); !ok {
		return Signed{}, &Rejection{Device: deviceIfID(s.Device), Seq: s.Seq, Reason: Malformed, Field: f}
	}
	return s, nil
}

// jsonField names the field a JSON decoding error is about, if it says.
func jsonField(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
		// The path of an embedded struct's field starts with its type.
		return te.Field[strings.LastIndexByte(te.Field, '.')+1:]
	}
	return "message"
}

// deviceIfID keeps a device field only if it is a well-formed id, so that
// a rejection never echoes arbitrary input.
func deviceIfID(d string) string {
	if vocab.IsID(d) {
		return d
	}
	return ""
}

// Encode is the JSON form of a signed reading, as Decode reads it.
func (s *Signed) Encode() []byte {
	b, err := json.Marshal(s)
	if err != nil { // only NaN or ±Inf values fail, which no check lets through
		panic(fmt.Sprintf("device: encode reading: %v", err))
	}
	return b
}
