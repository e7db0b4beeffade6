package ledger

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/vocab"
)

// Address is defined twice, here (tx.go) and in vocab, where packages that
// must not link the ledger take it from. The two must never disagree: an
// account's address is what its key file, the vault's links and the state
// all name it by.
func TestAddressIsVocabAddress(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1})
	for range 200 {
		seed := make([]byte, ed25519.SeedSize)
		r.Read(seed)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if a, v := Address(pub), vocab.Address(pub); a != v {
			t.Fatalf("ledger.Address = %s, vocab.Address = %s", a, v)
		}
		if err := validAddress("a", Address(pub)); err != nil {
			t.Fatal(err)
		}
	}
}
