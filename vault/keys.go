package vault

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/medchain/medchain/vault/internal/bech32"
)

// A version's data key is wrapped with age (X25519 recipients) to every key
// allowed to open it: the node's own vault key and the worker keys a policy
// allows. Each recipient gets its own small age file holding the 32-byte
// data key, so the manifest can say who may open a version, and a key that
// is not listed is refused with ErrNotRecipient before any decryption.

// Recipient is an X25519 public key a data key can be wrapped to.
type Recipient struct {
	s string // "age1…"
	r *age.X25519Recipient
}

// NewRecipient makes a recipient of a raw 32-byte X25519 public key, the
// form accounts publish on the ledger (Account.EncKey).
func NewRecipient(pub []byte) (Recipient, error) {
	if len(pub) != 32 {
		return Recipient{}, fmt.Errorf("X25519 public key: want 32 bytes, got %d", len(pub))
	}
	s, err := bech32.Encode("age", pub)
	if err != nil {
		return Recipient{}, err
	}
	return ParseRecipient(s)
}

// ParseRecipient reads an age recipient ("age1…") or a raw X25519 public
// key in hex.
func ParseRecipient(s string) (Recipient, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return NewRecipient(b)
		}
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return Recipient{}, err
	}
	return Recipient{s: r.String(), r: r}, nil
}

// String is the recipient in age's text form, "age1…".
func (r Recipient) String() string { return r.s }

// Identity is an X25519 private key that can unwrap data keys.
type Identity struct {
	id   *age.X25519Identity
	rcpt Recipient
}

// NewIdentity makes an identity of an X25519 private key.
func NewIdentity(k *ecdh.PrivateKey) (*Identity, error) {
	if k.Curve() != ecdh.X25519() {
		return nil, errors.New("vault identity: not an X25519 key")
	}
	s, err := bech32.Encode("age-secret-key-", k.Bytes())
	if err != nil {
		return nil, err
	}
	id, err := age.ParseX25519Identity(strings.ToUpper(s))
	if err != nil {
		return nil, fmt.Errorf("vault identity: %w", err)
	}
	r, err := NewRecipient(k.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	if r.String() != id.Recipient().String() {
		return nil, errors.New("vault identity: age derives a different public key") // cannot happen unless the encoding is wrong
	}
	return &Identity{id: id, rcpt: r}, nil
}

// nodeKeyInfo labels the derivation of a node's vault key.
const nodeKeyInfo = "medchain/vault/node-key/v1"

// NodeIdentity is the node's own vault key, derived (HKDF-SHA256) from the
// institution account's X25519 key. A derived key rather than the account
// key itself, because the account key is published on the ledger for
// results encrypted to the institution: the two uses never share a key, and
// the vault recipient cannot be linked to the account by its public key.
func NodeIdentity(institution *ecdh.PrivateKey) (*Identity, error) {
	seed, err := hkdf.Key(sha256.New, institution.Bytes(), nil, nodeKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	return NewIdentity(k)
}

// Recipient is the identity's public key.
func (i *Identity) Recipient() Recipient { return i.rcpt }

// WrappedKey is a data key encrypted to one recipient: an age file whose
// payload is the 32-byte key.
type WrappedKey struct {
	Recipient string `json:"recipient"` // "age1…"
	Age       []byte `json:"age"`
}

const dataKeySize = 32

// wrapKey wraps key to each distinct recipient, in the order given.
func wrapKey(key []byte, rs []Recipient) ([]WrappedKey, error) {
	if len(rs) == 0 {
		return nil, errors.New("no recipients: nobody could ever open the data")
	}
	var out []WrappedKey
	seen := map[string]bool{}
	for _, r := range rs {
		if r.r == nil {
			return nil, errors.New("zero Recipient")
		}
		if seen[r.s] {
			continue
		}
		seen[r.s] = true
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, r.r)
		if err != nil {
			return nil, fmt.Errorf("wrap to %s: %w", r.s, err)
		}
		if _, err := w.Write(key); err != nil {
			return nil, fmt.Errorf("wrap to %s: %w", r.s, err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("wrap to %s: %w", r.s, err)
		}
		out = append(out, WrappedKey{Recipient: r.s, Age: buf.Bytes()})
	}
	return out, nil
}

// unwrapKey finds id's entry among ws and decrypts it.
func unwrapKey(ws []WrappedKey, id *Identity) ([]byte, error) {
	me := id.rcpt.String()
	for _, w := range ws {
		if w.Recipient != me {
			continue
		}
		r, err := age.Decrypt(bytes.NewReader(w.Age), id.id)
		if err != nil {
			return nil, fmt.Errorf("%w: wrapped key for %s does not open: %v", ErrCorrupt, me, err)
		}
		key, err := io.ReadAll(io.LimitReader(r, dataKeySize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: wrapped key for %s does not open: %v", ErrCorrupt, me, err)
		}
		if len(key) != dataKeySize {
			return nil, fmt.Errorf("%w: wrapped key for %s holds %d bytes, want %d", ErrCorrupt, me, len(key), dataKeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("%w: %s is not among the %d recipients %s", ErrNotRecipient, me, len(ws), recipientList(ws))
}

func recipientList(ws []WrappedKey) string {
	var names []string
	for _, w := range ws {
		names = append(names, w.Recipient)
	}
	return "[" + strings.Join(names, ", ") + "]"
}
