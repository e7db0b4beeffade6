// Package keys holds account key pairs: an ed25519 signing key and an X25519
// encryption key, stored one JSON file per key with owner-only permissions.
package keys

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
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
	Seed    []byte `json:"ed25519_seed"`
	X25519  []byte `json:"x25519_private"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Save writes the key to dir/<name>.json, readable by the owner only. It
// never overwrites an existing key.
func (k *Key) Save(dir string) error {
	if !nameRE.MatchString(k.Name) {
		return fmt.Errorf("key name %q: use letters, digits, . _ - (max 64)", k.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(file{Name: k.Name, Address: k.Address(), Seed: k.Sign.Seed(), X25519: k.Enc.Bytes()}, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, k.Name+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("key %q already exists in %s", k.Name, dir)
		}
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Load reads dir/<name>.json.
func Load(dir, name string) (*Key, error) {
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
	if len(f.Seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: ed25519_seed: want %d bytes, got %d", path, ed25519.SeedSize, len(f.Seed))
	}
	ek, err := ecdh.X25519().NewPrivateKey(f.X25519)
	if err != nil {
		return nil, fmt.Errorf("%s: x25519_private: %w", path, err)
	}
	return &Key{Name: name, Sign: ed25519.NewKeyFromSeed(f.Seed), Enc: ek}, nil
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
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
