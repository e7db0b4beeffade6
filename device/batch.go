package device

import (
	"crypto/ed25519"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Signature verification. Readings are verified by the cofactored
// equation of RFC 8032 §5.1.7 (FIPS 186-5), with canonical encodings of
// the key and of R: the rule under which signatures can be verified in
// batches, several times faster per signature than one by one. One rule
// everywhere — ingestion, batches, later proofs (medchain device verify)
// — so that a reading the node stored verifies again later. (Go's
// crypto/ed25519 verifies by the cofactorless equation; the two differ
// only on signatures crafted by the key's holder with a small-order
// component, which no honest device makes.)

// verifyOptions is the rule; voi's default is the cofactored, canonical
// one.
var verifyOptions = &voi.Options{Verify: voi.VerifyOptionsDefault}

// Verify reports whether the signature is the device key's over the
// reading.
func (s *Signed) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && len(s.Sig) == ed25519.SignatureSize &&
		voi.VerifyWithOptions(voi.PublicKey(pub), s.Canonical(), s.Sig, verifyOptions)
}

// VerifyBatch verifies the signatures of readings against keys (keys[i]
// for readings[i]) and reports each one's validity, by the same rule as
// Verify. All valid — the usual case — costs one multi-scalar
// multiplication for the lot; if any is invalid, each is verified alone
// to find which.
func VerifyBatch(keys []ed25519.PublicKey, readings []*Signed) []bool {
	if len(keys) != len(readings) {
		panic("device: VerifyBatch: keys and readings differ in number")
	}
	switch len(readings) {
	case 0:
		return nil
	case 1:
		return []bool{readings[0].Verify(keys[0])}
	}
	v := voi.NewBatchVerifier()
	for i, s := range readings {
		// A key or signature of the wrong size is an invalid entry: voi
		// marks it so, and it fails alone.
		v.AddWithOptions(voi.PublicKey(keys[i]), s.Canonical(), s.Sig, verifyOptions)
	}
	_, valid := v.Verify(nil)
	return valid
}
