package rewards

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Store keeps an institution's tally sealed in one file: AES-256-GCM under
// a key the caller derives from its vault secret, with the file's purpose
// as associated data. Writes go to a temporary file, are synced and renamed
// over the old one, so a crash leaves the old tally or the new one.
// Updates are serialised within the process; a store belongs to one
// process (the node, whose workers and API share it).
type Store struct {
	path string
	aead cipher.AEAD
	mu   sync.Mutex
}

// ErrCorrupt is matched by the error of a tally file that does not open
// (modified, truncated, another key): the store never treats it as empty,
// which would forget what patients are owed.
var ErrCorrupt = errors.New("rewards: tally file unreadable")

const storeAD = "medchain/rewards/tally/v1"

// OpenStore returns the store in file path (created on first save).
func OpenStore(path string, key [32]byte) (*Store, error) {
	if key == [32]byte{} {
		return nil, errors.New("rewards: the key is all zeros")
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Store{path: path, aead: aead}, nil
}

// Update loads the tally, applies fn and, if fn succeeds, saves it.
func (s *Store) Update(fn func(*Tally) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	return s.save(t)
}

// View loads the tally and hands it to fn; changes are not saved.
func (s *Store) View(fn func(*Tally) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.load()
	if err != nil {
		return err
	}
	return fn(t)
}

func (s *Store) load() (*Tally, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Tally{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rewards: %w", err)
	}
	n := s.aead.NonceSize()
	if len(b) < n {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, s.path)
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(storeAD))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, s.path)
	}
	var t Tally
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, s.path)
	}
	if err := t.upgrade(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Store) save(t *Tally) error {
	plain, err := json.Marshal(t)
	if err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("rewards: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tally-*")
	if err != nil {
		return fmt.Errorf("rewards: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(s.aead.Seal(nonce, nonce, plain, []byte(storeAD))); err != nil {
		tmp.Close()
		return fmt.Errorf("rewards: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("rewards: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rewards: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("rewards: %w", err)
	}
	return nil
}
