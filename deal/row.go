// Package deal is the institution side and the buyer side of data deals
// (ledger/deals.go): the data holder's worker delivers each accepted
// patient's de-identified row, with only the fields the deal asks for,
// encrypted to the buyer; the buyer fetches, checks and opens them.
//
// A delivered row is JSON (format medchain/deal-row/v1) padded to a size
// fixed by the number of fields asked for, then encrypted with age to the
// deal's buyer key. Every row of a deal is therefore the same number of
// bytes, whatever it holds; the ledger sees only the SHA-256 of the
// ciphertext, which the node keeps in its results store.
package deal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vault"
)

// RowFormat names the plaintext format of a delivered row.
const RowFormat = "medchain/deal-row/v1"

// Row is what the buyer decrypts: one record of one patient, the deal's
// fields in the deal's order. Values are JSON numbers, booleans, strings
// (codes) or null. Nothing in it names the patient.
type Row struct {
	Format  string   `json:"format"`
	Deal    uint64   `json:"deal"`
	Dataset string   `json:"dataset"`
	Version uint64   `json:"version"`
	Fields  []string `json:"fields"`
	Values  []any    `json:"values"`
}

// Padding: the plaintext is a 4-byte length, the JSON, and zeros up to
// PaddedSize. A field name is at most 64 bytes and a de-identified value
// (a number, a boolean, a code) well under 96; a row that does not fit is
// refused rather than sent in a size that would set it apart.
const (
	rowBase     = 512
	rowPerField = 160
)

// PaddedSize is the plaintext size of every row of a deal asking for n
// fields.
func PaddedSize(n int) int { return rowBase + rowPerField*n }

// ErrRowTooLarge: a row's JSON does not fit the deal's fixed size.
var ErrRowTooLarge = errors.New("the row does not fit the deal's fixed row size")

// Pad encodes a row into its fixed-size plaintext.
func Pad(r *Row) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	size := PaddedSize(len(r.Fields))
	if 4+len(body) > size {
		return nil, ErrRowTooLarge
	}
	out := make([]byte, size)
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	copy(out[4:], body)
	return out, nil
}

// Unpad decodes a fixed-size plaintext.
func Unpad(plain []byte) (*Row, error) {
	if len(plain) < 4 {
		return nil, errors.New("deal row: too short")
	}
	n := binary.BigEndian.Uint32(plain)
	if int64(n) > int64(len(plain)-4) {
		return nil, errors.New("deal row: length prefix beyond the padding")
	}
	var r Row
	dec := json.NewDecoder(bytes.NewReader(plain[4 : 4+n]))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("deal row: %w", err)
	}
	if r.Format != RowFormat {
		return nil, fmt.Errorf("deal row: format %q, want %q", r.Format, RowFormat)
	}
	if len(r.Values) != len(r.Fields) {
		return nil, fmt.Errorf("deal row: %d values for %d fields", len(r.Values), len(r.Fields))
	}
	if len(plain) != PaddedSize(len(r.Fields)) {
		return nil, fmt.Errorf("deal row: %d bytes, a row of %d fields is %d", len(plain), len(r.Fields), PaddedSize(len(r.Fields)))
	}
	return &r, nil
}

// Seal pads a row and encrypts it to the buyer's raw X25519 key.
func Seal(r *Row, buyerKey []byte) ([]byte, error) {
	rc, err := vault.NewRecipient(buyerKey)
	if err != nil {
		return nil, fmt.Errorf("buyer key: %w", err)
	}
	plain, err := Pad(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rc.AgeRecipient())
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	clear(plain)
	return buf.Bytes(), nil
}

// ErrHashMismatch: the bytes a node served are not the ciphertext whose
// hash the delivery put on the ledger.
var ErrHashMismatch = errors.New("the row's ciphertext does not match the hash delivered on the ledger")

// Open checks a ciphertext against the hash on the ledger and decrypts it
// with the buyer's key.
func Open(ciphertext []byte, rowHash string, k *keys.Key) (*Row, error) {
	sum := sha256.Sum256(ciphertext)
	if hex.EncodeToString(sum[:]) != rowHash {
		return nil, ErrHashMismatch
	}
	id, err := vault.NewIdentity(k.Enc)
	if err != nil {
		return nil, err
	}
	rd, err := age.Decrypt(bytes.NewReader(ciphertext), id.AgeIdentity())
	if err != nil {
		return nil, fmt.Errorf("decrypt row with %s's key: %w", k.Name, err)
	}
	plain, err := io.ReadAll(io.LimitReader(rd, int64(PaddedSize(64))+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt row: %w", err)
	}
	return Unpad(plain)
}

// Check is what a buyer requires of a row of its deal: the deal's id and
// exactly its fields, in order.
func Check(r *Row, dealID uint64, fields []string) error {
	if r.Deal != dealID {
		return fmt.Errorf("deal row: for deal %d, not %d", r.Deal, dealID)
	}
	if !slices.Equal(r.Fields, fields) {
		return fmt.Errorf("deal row: fields %v, the deal asked for %v", r.Fields, fields)
	}
	return nil
}
