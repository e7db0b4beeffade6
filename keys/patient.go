package keys

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/medchain/medchain/vocab"
)

// A patient keeps one secret and holds a different wallet at each
// institution, derived from it: an ed25519 signing key and an X25519
// encryption key per institution id. Wallets at two institutions share no
// key, no address and no encryption key, and nothing on the ledger links
// them (the derivation is one-way: HKDF-SHA256, RFC 5869); the patient, who
// has the secret, can derive any of them again. The web app derives the
// same wallets (testdata/patient-wallets.json are the published vectors).
//
//	ed25519 seed   = HKDF-SHA256(secret, salt "medchain/patient-wallet/v1", info "ed25519-seed\x00" || institution id, 32)
//	X25519 private = HKDF-SHA256(secret, salt "medchain/patient-wallet/v1", info "x25519-key\x00" || institution id, 32)

// PatientSecretSize is the size of a patient secret in bytes.
const PatientSecretSize = 32

const walletSalt = "medchain/patient-wallet/v1"

// NewPatientSecret draws a patient secret from the system's randomness.
func NewPatientSecret() ([]byte, error) {
	s := make([]byte, PatientSecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, err
	}
	return s, nil
}

// PatientWallet derives the patient's wallet at institution org (an
// organisation id, as the ledger spells it) from secret, named name.
func PatientWallet(secret []byte, org, name string) (*Key, error) {
	if len(secret) != PatientSecretSize {
		return nil, fmt.Errorf("patient secret: want %d bytes, got %d", PatientSecretSize, len(secret))
	}
	if !vocab.IsID(org) {
		return nil, fmt.Errorf("institution %q is not an organisation id (%s)", org, vocab.IDSyntax)
	}
	seed, err := hkdf.Key(sha256.New, secret, []byte(walletSalt), "ed25519-seed\x00"+org, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	defer clear(seed)
	xk, err := hkdf.Key(sha256.New, secret, []byte(walletSalt), "x25519-key\x00"+org, 32)
	if err != nil {
		return nil, err
	}
	defer clear(xk)
	enc, err := ecdh.X25519().NewPrivateKey(xk)
	if err != nil {
		return nil, err // any 32 bytes are an X25519 scalar: not reached
	}
	return &Key{Name: name, Sign: ed25519.NewKeyFromSeed(seed), Enc: enc}, nil
}
