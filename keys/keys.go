// Package keys holds account key pairs: an ed25519 signing key and an X25519
// encryption key, stored one JSON file per key with owner-only permissions.
//
// A key directory is a keystore: the private keys in each file are
// encrypted with age under a passphrase (scrypt), and only the name and
// address are in the clear. The one exception is the keys of a dev
// network — `medchain up` and `medchain testnet` write the keys of every
// demo member into every node home, for anyone at the keyboard to use —
// which are plaintext, in a directory marked as such by a file named
// UNENCRYPTED-DEV-KEYS (MarkDev), and each carries a warning. A plaintext
// key anywhere else is refused.
//
// The passphrase comes from the environment — MEDCHAIN_KEY_PASSPHRASE_FILE
// (a file whose first line is the passphrase) or MEDCHAIN_KEY_PASSPHRASE —
// or, on a terminal, from a prompt; never from a command-line flag, which
// other users of the machine can read.
package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/medchain/medchain/vocab"
)

// Key is an account's key material.
type Key struct {
	Name string
	Sign ed25519.PrivateKey
	Enc  *ecdh.PrivateKey // X25519
}

// ErrNotFound is returned by Load for a missing key.
var ErrNotFound = errors.New("key not found")

// Generate makes a fresh key pair from the system's randomness.
func Generate(name string) (*Key, error) {
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ek, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{Name: name, Sign: sk, Enc: ek}, nil
}

// FromSeed derives a key deterministically (tests and fixtures only).
func FromSeed(name string, seed [32]byte) *Key {
	sk := ed25519.NewKeyFromSeed(seed[:])
	ek, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		panic(err) // any 32 bytes are a valid X25519 scalar
	}
	return &Key{Name: name, Sign: sk, Enc: ek}
}

// PubKey is the ed25519 public key.
func (k *Key) PubKey() []byte { return k.Sign.Public().(ed25519.PublicKey) }

// EncPub is the X25519 public key.
func (k *Key) EncPub() []byte { return k.Enc.PublicKey().Bytes() }

// Address is the account address.
func (k *Key) Address() string { return vocab.Address(k.PubKey()) }

type file struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// The public keys, in the clear so that listing keys and naming
	// recipients needs no passphrase.
	PubKey []byte `json:"ed25519_public,omitempty"`
	EncPub []byte `json:"x25519_public,omitempty"`
	// A dev keystore's plaintext key: the warning and the private keys.
	Warning string `json:"warning,omitempty"`
	Seed    []byte `json:"ed25519_seed,omitempty"`
	X25519  []byte `json:"x25519_private,omitempty"`
	// A keystore's key: the private keys (a secrets document) encrypted
	// with age to the passphrase (scrypt), ASCII-armored.
	Encrypted string `json:"age_scrypt,omitempty"`
}

// secrets is what an encrypted key file encrypts.
type secrets struct {
	Seed   []byte `json:"ed25519_seed"`
	X25519 []byte `json:"x25519_private"`
}

// devWarning is written into every plaintext key file.
const devWarning = "UNENCRYPTED DEVELOPMENT KEY: anyone who can read this file can sign and decrypt as this account. Only for dev networks (medchain up, medchain testnet); real keys live in an encrypted keystore."

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Save writes the key to dir/<name>.json, readable by the owner only,
// encrypted under the passphrase DefaultPassphrase supplies — or, in a dev
// keystore (MarkDev), in plaintext with a warning. It never overwrites an
// existing key.
func (k *Key) Save(dir string) error { return k.SaveWith(dir, DefaultPassphrase) }

// SaveWith is Save with the passphrase from pass (not asked in a dev
// keystore).
func (k *Key) SaveWith(dir string, pass Passphrase) error {
	if !nameRE.MatchString(k.Name) {
		return fmt.Errorf("key name %q: use letters, digits, . _ - (max 64)", k.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, k.Name+".json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("key %q already exists in %s", k.Name, dir)
	}
	f := file{Name: k.Name, Address: k.Address(), PubKey: k.PubKey(), EncPub: k.EncPub()}
	if IsDev(dir) {
		f.Warning, f.Seed, f.X25519 = devWarning, k.Sign.Seed(), k.Enc.Bytes()
	} else {
		p, err := pass(true)
		if err != nil {
			return fmt.Errorf("key %q: %w", k.Name, err)
		}
		if f.Encrypted, err = encrypt(secrets{Seed: k.Sign.Seed(), X25519: k.Enc.Bytes()}, p); err != nil {
			return fmt.Errorf("key %q: %w", k.Name, err)
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("key %q already exists in %s", k.Name, dir)
		}
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	return out.Close()
}

// Load reads dir/<name>.json, asking DefaultPassphrase for the passphrase
// of an encrypted key.
func Load(dir, name string) (*Key, error) { return LoadWith(dir, name, DefaultPassphrase) }

// LoadWith is Load with the passphrase from pass. A key decrypted once is
// kept in memory (as long as its file is unchanged), so a long-running
// node asks once, and scrypt's deliberate cost is paid once per key.
func LoadWith(dir, name string, pass Passphrase) (*Key, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("key name %q: use letters, digits, . _ - (max 64)", name)
	}
	path := filepath.Join(dir, name+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q in %s", ErrNotFound, name, dir)
	}
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sec := secrets{Seed: f.Seed, X25519: f.X25519}
	switch {
	case f.Encrypted != "":
		if len(f.Seed) != 0 || len(f.X25519) != 0 {
			return nil, fmt.Errorf("%s: holds both an encrypted and a plaintext key", path)
		}
		sum := sha256.Sum256(b)
		if k := cached(path, sum); k != nil {
			return k, nil
		}
		p, err := pass(false)
		if err != nil {
			return nil, fmt.Errorf("key %q (%s): %w", name, path, err)
		}
		if sec, err = decrypt(f.Encrypted, p); err != nil {
			return nil, fmt.Errorf("key %q (%s): %w", name, path, err)
		}
		k, err := fromSecrets(path, name, f, sec)
		if err != nil {
			return nil, err
		}
		remember(path, sum, k)
		return k, nil
	case !IsDev(dir):
		return nil, fmt.Errorf("%s: %w", path, ErrPlaintext)
	}
	return fromSecrets(path, name, f, sec)
}

func fromSecrets(path, name string, f file, s secrets) (*Key, error) {
	if len(s.Seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: ed25519_seed: want %d bytes, got %d", path, ed25519.SeedSize, len(s.Seed))
	}
	ek, err := ecdh.X25519().NewPrivateKey(s.X25519)
	if err != nil {
		return nil, fmt.Errorf("%s: x25519_private: %w", path, err)
	}
	k := &Key{Name: name, Sign: ed25519.NewKeyFromSeed(s.Seed), Enc: ek}
	if f.Address != "" && f.Address != k.Address() {
		return nil, fmt.Errorf("%s: address %s is not the key's (%s)", path, f.Address, k.Address())
	}
	if (f.PubKey != nil && !bytes.Equal(f.PubKey, k.PubKey())) || (f.EncPub != nil && !bytes.Equal(f.EncPub, k.EncPub())) {
		return nil, fmt.Errorf("%s: the public keys are not the private keys'", path)
	}
	return k, nil
}

// Public is the public half of a key.
type Public struct {
	Name    string
	Address string
	PubKey  []byte // ed25519
	EncPub  []byte // X25519
}

// LoadPublic reads the public half of dir/<name>.json, without the
// passphrase: what listing keys, or naming one as an address or a
// recipient, needs.
func LoadPublic(dir, name string) (*Public, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("key name %q: use letters, digits, . _ - (max 64)", name)
	}
	path := filepath.Join(dir, name+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q in %s", ErrNotFound, name, dir)
	}
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Encrypted == "" {
		k, err := LoadWith(dir, name, func(bool) ([]byte, error) { return nil, ErrNoPassphrase })
		if err != nil {
			return nil, err
		}
		return &Public{Name: name, Address: k.Address(), PubKey: k.PubKey(), EncPub: k.EncPub()}, nil
	}
	if len(f.PubKey) != ed25519.PublicKeySize || len(f.EncPub) != 32 {
		return nil, fmt.Errorf("%s: the public keys are missing", path)
	}
	if vocab.Address(f.PubKey) != f.Address {
		return nil, fmt.Errorf("%s: address %s is not the public key's", path, f.Address)
	}
	return &Public{Name: name, Address: f.Address, PubKey: f.PubKey, EncPub: f.EncPub}, nil
}

// List returns the names of the keys in dir, sorted.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() && nameRE.MatchString(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
