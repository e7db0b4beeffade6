// Package blob is the vault's storage: immutable blobs addressed by the
// SHA-256 of their bytes. The vault only ever stores ciphertext and
// manifests, so the address is the hash of the ciphertext, and a store
// re-hashes every blob it reads: a flipped bit on disk is an error, never
// data.
//
// The interface is deliberately two methods, so that S3-compatible object
// storage can implement it later. Dir is the embedded default.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Store keeps blobs by content address.
type Store interface {
	// Put stores data and returns its address. Storing the same bytes
	// twice is not an error.
	Put(data []byte) (Addr, error)
	// Get returns the blob at addr after checking that its bytes still
	// hash to addr. A missing blob wraps ErrNotFound, a modified one
	// ErrCorrupt.
	Get(addr Addr) ([]byte, error)
}

// Errors wrapped by every Store.
var (
	ErrNotFound = errors.New("blob not found")
	ErrCorrupt  = errors.New("blob content does not match its address (stored bytes were modified)")
)

// Addr is a blob's address: the SHA-256 of its bytes.
type Addr [sha256.Size]byte

// AddrOf returns the address of data.
func AddrOf(data []byte) Addr { return sha256.Sum256(data) }

// String is the address in lower-case hex.
func (a Addr) String() string { return hex.EncodeToString(a[:]) }

// ParseAddr reads an address from hex.
func ParseAddr(s string) (Addr, error) {
	var a Addr
	if len(s) != 2*len(a) {
		return a, fmt.Errorf("blob address %q: want %d hex digits", s, 2*len(a))
	}
	if _, err := hex.Decode(a[:], []byte(s)); err != nil {
		return a, fmt.Errorf("blob address %q: %w", s, err)
	}
	return a, nil
}

// MarshalText encodes the address as hex (so it is hex in JSON).
func (a Addr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes a hex address.
func (a *Addr) UnmarshalText(b []byte) error {
	p, err := ParseAddr(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}
