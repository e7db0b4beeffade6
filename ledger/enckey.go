package ledger

import (
	"crypto/ecdh"
	"crypto/sha256"
)

// lowOrderProbe is a fixed X25519 private key: agreeing with a public key
// of small order yields the all-zero secret, which crypto/ecdh refuses.
// The probe is public and fixed, so every validator reaches the same
// verdict.
var lowOrderProbe = func() *ecdh.PrivateKey {
	seed := sha256.Sum256([]byte("medchain/ledger/x25519-low-order-probe"))
	k, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}()

// validEncKey checks an X25519 public key: 32 bytes and not of small
// order. A key of small order makes every key agreement with it the same
// known value — pairwise masks derived from it would hide nothing, and a
// study with such a worker could never run — so it is refused up front.
func validEncKey(field string, b []byte) error {
	if err := validKeyBytes(field, b); err != nil {
		return err
	}
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return errf(CodeInvalidField, "%s: %v", field, err)
	}
	if _, err := lowOrderProbe.ECDH(pub); err != nil {
		return errf(CodeInvalidField, "%s: an X25519 key of small order is not a usable key", field)
	}
	return nil
}
