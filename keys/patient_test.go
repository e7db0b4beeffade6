package keys_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vocab"
)

var updateWallets = flag.Bool("update-wallets", false, "rewrite testdata/patient-wallets.json")

// walletVector is one published derivation: a secret and an institution
// id, and the wallet that derives from them.
type walletVector struct {
	Secret      string `json:"patient_secret"` // hex
	Institution string `json:"institution"`
	Seed        string `json:"ed25519_seed"`
	PubKey      string `json:"ed25519_public"`
	Address     string `json:"address"`
	X25519      string `json:"x25519_private"`
	EncPub      string `json:"x25519_public"`
}

func vectorSecret(b byte) []byte {
	s := make([]byte, keys.PatientSecretSize)
	for i := range s {
		s[i] = b ^ byte(i*7)
	}
	return s
}

// hkdfByHand is RFC 5869 HKDF-SHA256 for a 32-byte output written out
// (extract, then one expand block), so the vectors check the documented
// formula and not just the code against itself.
func hkdfByHand(secret []byte, salt, info string) []byte {
	ext := hmac.New(sha256.New, []byte(salt))
	ext.Write(secret)
	prk := ext.Sum(nil)
	exp := hmac.New(sha256.New, prk)
	exp.Write([]byte(info))
	exp.Write([]byte{1})
	return exp.Sum(nil)
}

// TestPatientWalletVectors holds the derivation to the published vectors
// (testdata/patient-wallets.json), and each vector to the formula in the
// package documentation, computed by hand.
func TestPatientWalletVectors(t *testing.T) {
	var got []walletVector
	for _, c := range []struct {
		secret byte
		org    string
	}{{0x00, "st-mary"}, {0x00, "northside"}, {0x5a, "st-mary"}, {0xff, "lakeview"}} {
		s := vectorSecret(c.secret)
		k, err := keys.PatientWallet(s, c.org, "w")
		if err != nil {
			t.Fatal(err)
		}
		v := walletVector{Secret: hex.EncodeToString(s), Institution: c.org, Seed: hex.EncodeToString(k.Sign.Seed()),
			PubKey: hex.EncodeToString(k.PubKey()), Address: k.Address(), X25519: hex.EncodeToString(k.Enc.Bytes()), EncPub: hex.EncodeToString(k.EncPub())}
		if want := hex.EncodeToString(hkdfByHand(s, "medchain/patient-wallet/v1", "ed25519-seed\x00"+c.org)); v.Seed != want {
			t.Errorf("%s: ed25519 seed %s, the formula gives %s", c.org, v.Seed, want)
		}
		if want := hex.EncodeToString(hkdfByHand(s, "medchain/patient-wallet/v1", "x25519-key\x00"+c.org)); v.X25519 != want {
			t.Errorf("%s: x25519 key %s, the formula gives %s", c.org, v.X25519, want)
		}
		got = append(got, v)
	}
	path := filepath.Join("testdata", "patient-wallets.json")
	if *updateWallets {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []walletVector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors, the file has %d (go test ./keys -run Vectors -update-wallets rewrites it)", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("vector %d (%s):\n got %+v\nwant %+v", i, want[i].Institution, got[i], want[i])
		}
		// Each vector is self-consistent: the public halves follow from
		// the private ones.
		seed, _ := hex.DecodeString(want[i].Seed)
		xk, _ := hex.DecodeString(want[i].X25519)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		ek, err := ecdh.X25519().NewPrivateKey(xk)
		if err != nil || hex.EncodeToString(pub) != want[i].PubKey || vocab.Address(pub) != want[i].Address || hex.EncodeToString(ek.PublicKey().Bytes()) != want[i].EncPub {
			t.Errorf("vector %d is not self-consistent", i)
		}
	}
}

// TestPatientWalletsAreUnlinkable: the wallets of one secret at two
// institutions share no key, address or encryption key (nor any 8-byte
// run of them); deriving again gives the same wallet.
func TestPatientWalletsAreUnlinkable(t *testing.T) {
	secret, err := keys.NewPatientSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := keys.PatientWallet(secret, "st-mary", "a")
	b, _ := keys.PatientWallet(secret, "northside", "b")
	again, _ := keys.PatientWallet(secret, "st-mary", "a")
	if again.Address() != a.Address() || !bytes.Equal(again.EncPub(), a.EncPub()) || !bytes.Equal(again.Sign.Seed(), a.Sign.Seed()) {
		t.Fatal("deriving the same wallet twice gave two")
	}
	addrA, _ := hex.DecodeString(a.Address())
	addrB, _ := hex.DecodeString(b.Address())
	partsA := [][]byte{a.PubKey(), a.EncPub(), addrA, a.Sign.Seed(), a.Enc.Bytes()}
	partsB := [][]byte{b.PubKey(), b.EncPub(), addrB, b.Sign.Seed(), b.Enc.Bytes()}
	for i, pa := range partsA {
		for j, pb := range partsB {
			for k := 0; k+8 <= len(pa); k++ {
				if bytes.Contains(pb, pa[k:k+8]) {
					t.Fatalf("wallet parts %d and %d share bytes %x", i, j, pa[k:k+8])
				}
			}
		}
	}
	// The signing and encryption keys of one wallet are unrelated too (a
	// key file derived with FromSeed uses one seed for both).
	if bytes.Equal(a.Sign.Seed(), a.Enc.Bytes()) {
		t.Fatal("a wallet's signing seed is its X25519 key")
	}
	for _, bad := range []struct {
		secret []byte
		org    string
	}{{secret[:31], "st-mary"}, {secret, ""}, {secret, "St Mary"}, {secret, "st-mary\x00x"}} {
		if _, err := keys.PatientWallet(bad.secret, bad.org, "x"); err == nil {
			t.Errorf("PatientWallet(%d-byte secret, %q) was accepted", len(bad.secret), bad.org)
		}
	}
}

// TestPatientSecretAtRest: a patient secret is kept encrypted under the
// keystore passphrase (no form of it in the file), opens only with that
// passphrase, is never overwritten, and is plaintext only in a dev
// keystore.
func TestPatientSecretAtRest(t *testing.T) {
	dir := t.TempDir()
	pass := func(bool) ([]byte, error) { return []byte("a long passphrase"), nil }
	wrong := func(bool) ([]byte, error) { return []byte("not it"), nil }
	secret, _ := keys.NewPatientSecret()
	if err := keys.SavePatientSecret(dir, "alice", secret, pass); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(keys.PatientSecretsDir(dir), "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, form := range map[string][]byte{"raw": secret, "hex": []byte(hex.EncodeToString(secret)),
		"base64": []byte(base64.StdEncoding.EncodeToString(secret)), "base64, unpadded": []byte(base64.RawStdEncoding.EncodeToString(secret))} {
		if bytes.Contains(b, form) {
			t.Fatalf("the secret file holds the secret (%s)", name)
		}
	}
	st, _ := os.Stat(filepath.Join(keys.PatientSecretsDir(dir), "alice.json"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	got, err := keys.LoadPatientSecret(dir, "alice", pass)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("load: %v", err)
	}
	if _, err := keys.LoadPatientSecret(dir, "alice", wrong); !errors.Is(err, keys.ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := keys.SavePatientSecret(dir, "alice", secret, pass); err == nil {
		t.Fatal("an existing secret was overwritten")
	}
	if _, err := keys.LoadPatientSecret(dir, "bob", pass); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	// The keystore's key listing does not take the secret for a key.
	if names, err := keys.List(dir); err != nil || len(names) != 0 {
		t.Fatalf("keys.List sees %v, %v", names, err)
	}
	if names, err := keys.ListPatientSecrets(dir); err != nil || len(names) != 1 || names[0] != "alice" {
		t.Fatalf("ListPatientSecrets: %v, %v", names, err)
	}

	// A plaintext secret is refused outside a dev keystore.
	dev := t.TempDir()
	if err := keys.MarkDev(dev); err != nil {
		t.Fatal(err)
	}
	if err := keys.SavePatientSecret(dev, "dev", secret, wrong); err != nil {
		t.Fatal(err)
	}
	if got, err := keys.LoadPatientSecret(dev, "dev", nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("dev load: %v", err)
	}
	plain, _ := os.ReadFile(filepath.Join(keys.PatientSecretsDir(dev), "dev.json"))
	if err := os.MkdirAll(keys.PatientSecretsDir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys.PatientSecretsDir(dir), "copied.json"), plain, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadPatientSecret(dir, "copied", pass); !errors.Is(err, keys.ErrPlaintext) {
		t.Fatalf("plaintext outside a dev keystore: %v", err)
	}
}

// BenchmarkPatientWallet derives one institution's wallet from a secret.
func BenchmarkPatientWallet(b *testing.B) {
	s := vectorSecret(1)
	for b.Loop() {
		if _, err := keys.PatientWallet(s, "st-mary", "w"); err != nil {
			b.Fatal(err)
		}
	}
}
